package openapi

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// FuzzBody checks the one-pass body validator against the jsonschema
// library on the same schema: for any input, both must agree on whether
// it is valid JSON and whether it matches, and the validator must never
// panic.
func FuzzBody(f *testing.F) {
	for _, s := range []string{
		`{"a":1}`, `{"a":1,"b":"abc","c":[{"a":2}],"d":[1,2],"e":{"k":1},"f":1.5}`,
		`{"a":1,"g":"s","h":{"z":1},"i":3,"j":["x",1],"k":{"q":1},"l":3}`,
		`{"a":1,"g":150.5}`, `{"a":"1"}`, `{"a":1,"b":"\u0041bc"}`, `{"a":1e2}`, `[]`, `{`, `{"a":1}x`,
		`{"a":1,"d":1.0}`, `{"a":-0,"f":0.25}`, `{"a":1,"j":["x",1,2]}`, `{"a":1,"c":[{"a":1,"c":[{}]}]}`,
	} {
		f.Add([]byte(s))
	}
	mine, ref := fuzzOracle(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		compareWithOracle(t, mine, ref, body)
	})
}

// fuzzOracle compiles testdata/fuzz.yaml's Doc twice: for the checker and
// for jsonschema.
func fuzzOracle(t testing.TB) (*schema, *jsonschema.Schema) {
	t.Helper()
	data, err := os.ReadFile("testdata/fuzz.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := compileSpec("fuzz.yaml", data, compileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mine := sp.ops[0].body.content[0].schema
	var root any
	if err := json.Unmarshal(sp.json, &root); err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(docURL, root); err != nil {
		t.Fatal(err)
	}
	ref, err := c.Compile(docURL + "#/components/schemas/Doc")
	if err != nil {
		t.Fatal(err)
	}
	return mine, ref
}

// compareWithOracle: for any input the checker must agree with
// encoding/json on whether it is JSON (but for what it refuses on
// purpose), refuse every repeated key, agree with jsonschema on whether
// it matches, and never panic.
func compareWithOracle(t *testing.T, mine *schema, ref *jsonschema.Schema, body []byte) {
	t.Helper()
	var ps problems
	ps.reset(1000)
	isJSON := validateJSON(mine, body, "/body", true, &ps)
	if !utf8.Valid(body) {
		if isJSON {
			t.Fatalf("%q: not UTF-8, taken as JSON", body)
		}
		return // encoding/json replaces bad UTF-8; the validator refuses it
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	refJSON := json.Valid(body)
	if refJSON {
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	if !isJSON && refJSON && refusedOnPurpose(ps.summary()) {
		return // JSON encoding/json takes and this checker refuses (strict_test.go)
	}
	if isJSON != refJSON {
		t.Fatalf("%q: JSON %v, encoding/json says %v (%s)", body, isJSON, refJSON, ps.summary())
	}
	if !isJSON {
		return
	}
	if hasDuplicateKeys(body) {
		t.Fatalf("%q: a repeated key passed", body)
	}
	refValid := ref.Validate(v) == nil
	if ps.empty() != refValid {
		t.Fatalf("%q: valid %v (%s), jsonschema says %v: %v", body, ps.empty(), ps.summary(), refValid, ref.Validate(v))
	}
}

// refusedOnPurpose reports whether the checker's problems name JSON it
// refuses on purpose though encoding/json reads it: a lone surrogate, a
// repeated key, a number beyond float64 or longer than maxNumberLen.
func refusedOnPurpose(summary string) bool {
	for _, s := range []string{"surrogate", "appears more than once", "out of range", "longer than"} {
		if strings.Contains(summary, s) {
			return true
		}
	}
	return false
}

// hasDuplicateKeys reports whether an object of body repeats a key: the
// checker must refuse every such body.
func hasDuplicateKeys(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	var stack []map[string]bool
	expectKey := []bool{}
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, map[string]bool{})
				expectKey = append(expectKey, true)
				continue
			case '[':
				stack = append(stack, nil)
				expectKey = append(expectKey, false)
				continue
			default:
				stack = stack[:len(stack)-1]
				expectKey = expectKey[:len(expectKey)-1]
			}
		case string:
			if n := len(stack); n > 0 && stack[n-1] != nil && expectKey[n-1] {
				if stack[n-1][t] {
					return true
				}
				stack[n-1][t] = true
				expectKey[n-1] = false
				continue
			}
		}
		if n := len(stack); n > 0 && stack[n-1] != nil {
			expectKey[n-1] = true
		}
	}
}
