// Package validators compares OpenAPI request validators for the openapi
// filter (docs/rationale.md): kin-openapi, libopenapi-validator and the
// filter's own compiled validator, on OpenAPI 3.1 correctness and speed.
// It is a module of its own so that the gateway's go.mod never requires
// the two libraries; run it with
//
//	cd docs/bench/openapi-validators && go test -run . -bench . -v
package validators

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/openapi"
)

// check validates one request; it reports whether it was accepted.
type check func(r *http.Request, body []byte) bool

type candidate struct {
	name  string
	build func(tb testing.TB, file string) check
}

var candidates = []candidate{
	{"kin-openapi", kin},
	{"libopenapi-validator", libopenapiValidator},
	{"wasmgate openapi", own},
}

func kin(tb testing.TB, file string) check {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		tb.Fatal(err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	return func(r *http.Request, body []byte) bool {
		r.Body = io.NopCloser(bytes.NewReader(body))
		route, params, err := router.FindRoute(r)
		if err != nil {
			return false
		}
		return openapi3filter.ValidateRequest(r.Context(), &openapi3filter.RequestValidationInput{
			Request: r, PathParams: params, Route: route, Options: opts,
		}) == nil
	}
}

func libopenapiValidator(tb testing.TB, file string) check {
	data, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	doc, err := libopenapi.NewDocument(data)
	if err != nil {
		tb.Fatal(err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		tb.Fatal(errs)
	}
	return func(r *http.Request, body []byte) bool {
		r.Body = io.NopCloser(bytes.NewReader(body))
		ok, _ := v.ValidateHttpRequest(r)
		return ok
	}
}

func own(tb testing.TB, file string) check {
	f, err := (&openapi.Config{Spec: file}).Build(&filter.BuildContext{Route: "bench"})
	if err != nil {
		tb.Fatal(err)
	}
	return func(r *http.Request, body []byte) bool {
		x := &filter.Exchange{Request: r, RequestBody: body}
		return f.OnRequest(x) == nil
	}
}

// TestCorrectness runs requests whose validity OpenAPI 3.1 (JSON Schema
// 2020-12) and 3.0 define differently, and prints which validator gets
// each right. Only the filter's own validator is required to.
func TestCorrectness(t *testing.T) {
	cases := []struct {
		doc, what, body string
		valid           bool
	}{
		{"cases31.yaml", "3.1 type array [string, null] takes null", `{"n": null}`, true},
		{"cases31.yaml", "3.1 type array [string, null] refuses 3", `{"n": 3}`, false},
		{"cases31.yaml", "3.1 const refuses another value", `{"k": "other"}`, false},
		{"cases31.yaml", "3.1 const takes its value", `{"k": "fixed"}`, true},
		{"cases31.yaml", "3.1 prefixItems checks each position", `{"t": ["a", "b"]}`, false},
		{"cases31.yaml", "3.1 items: false after prefixItems", `{"t": ["a", 1, 2]}`, false},
		{"cases31.yaml", "3.1 numeric exclusiveMinimum", `{"e": 0}`, false},
		{"cases30.yaml", "3.0 nullable: true takes null", `{"n": null}`, true},
		{"cases30.yaml", "3.0 without nullable refuses null", `{"s": null}`, false},
		{"cases30.yaml", "3.0 boolean exclusiveMaximum", `{"r": 1}`, false},
	}
	var table strings.Builder
	fmt.Fprintf(&table, "| case | %s | %s | %s |\n|---|---|---|---|\n", candidates[0].name, candidates[1].name, candidates[2].name)
	checks := map[string]check{}
	for _, c := range cases {
		fmt.Fprintf(&table, "| %s |", c.what)
		for _, cand := range candidates {
			key := cand.name + c.doc
			if checks[key] == nil {
				checks[key] = cand.build(t, "testdata/"+c.doc)
			}
			r := httptest.NewRequest("POST", "/c", nil)
			r.Header.Set("Content-Type", "application/json")
			got := checks[key](r, []byte(c.body))
			mark := "right"
			if got != c.valid {
				mark = "**wrong**"
				if cand.name == "wasmgate openapi" {
					t.Errorf("%s: %s: valid %v, want %v", cand.name, c.what, got, c.valid)
				}
			}
			fmt.Fprintf(&table, " %s |", mark)
		}
		table.WriteString("\n")
	}
	t.Log("\n" + table.String())
}

const benchDoc = "../../../filters/openapi/testdata/bench.yaml"

// benchBody is the filter's own benchmark body (about 1 KiB, 20 fields).
var benchBody = func() []byte {
	src, err := os.ReadFile("../../../filters/openapi/bench_test.go")
	if err != nil {
		panic(err)
	}
	s := string(src)
	start := strings.Index(s, "const benchBody = `") + len("const benchBody = `")
	var b strings.Builder
	for _, part := range strings.Split(s[start:strings.Index(s, "\n\nfunc BenchmarkBody")], "` +\n\t`") {
		b.WriteString(strings.TrimSuffix(part, "`"))
	}
	return []byte(b.String())
}()

func BenchmarkBody(b *testing.B) {
	for _, cand := range candidates {
		b.Run(cand.name, func(b *testing.B) {
			check := cand.build(b, benchDoc)
			r := httptest.NewRequest("POST", "/items", nil)
			r.Header.Set("Content-Type", "application/json")
			if !check(r, benchBody) {
				b.Fatalf("the benchmark body (%d bytes) is refused", len(benchBody))
			}
			b.ReportAllocs()
			for b.Loop() {
				check(r, benchBody)
			}
		})
	}
}

func BenchmarkQuery(b *testing.B) {
	for _, cand := range candidates {
		b.Run(cand.name, func(b *testing.B) {
			check := cand.build(b, benchDoc)
			r := httptest.NewRequest("GET", "/items?limit=20&sort=price", nil)
			if !check(r, nil) {
				b.Fatal("the benchmark query is refused")
			}
			b.ReportAllocs()
			for b.Loop() {
				check(r, nil)
			}
		})
	}
}
