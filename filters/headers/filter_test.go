package headers

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/router"
)

func build(t *testing.T, c *Config, params ...string) filter.Filter {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	f, err := c.Build(&filter.BuildContext{Route: "r", RouteParams: params, Logger: slog.Default()})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return f
}

func TestRequestAndResponseEdits(t *testing.T) {
	f := build(t, &Config{
		Request: Ops{
			Remove: []string{"x-drop", "X-Replace"},
			Set:    map[string]string{"X-User": "{id}", "x-replace": "new"},
			Add:    map[string]string{"X-Multi": "two"},
		},
		Response: Ops{
			Set:    map[string]string{"X-Served-By": "gw ({route.name})"},
			Remove: []string{"Server"},
		},
	}, "id")

	r := httptest.NewRequest("GET", "/users/7", nil)
	r.Header.Set("X-Drop", "secret")
	r.Header.Set("X-Replace", "old")
	r.Header.Set("X-Multi", "one")
	x := &filter.Exchange{Request: r, Route: "user", Params: router.Params{{Name: "id", Value: "7"}}}
	if resp := f.OnRequest(x); resp != nil {
		t.Fatalf("headers never answers itself, got %v", resp.Status)
	}
	if r.Header.Get("X-Drop") != "" {
		t.Error("X-Drop should be removed")
	}
	if got := r.Header.Values("X-Replace"); !slices.Equal(got, []string{"new"}) {
		t.Errorf("X-Replace = %v, want [new]", got)
	}
	if got := r.Header.Get("X-User"); got != "7" {
		t.Errorf("X-User = %q, want the route param 7", got)
	}
	if got := r.Header.Values("X-Multi"); !slices.Equal(got, []string{"one", "two"}) {
		t.Errorf("X-Multi = %v, want [one two]", got)
	}

	x.Response = &filter.Response{Status: 200, Header: http.Header{"Server": {"upstream/1.0"}}}
	f.(filter.ResponseFilter).OnResponse(x)
	if x.Response.Header.Get("Server") != "" {
		t.Error("Server should be removed from the response")
	}
	if got := x.Response.Header.Get("X-Served-By"); got != "gw (user)" {
		t.Errorf("X-Served-By = %q", got)
	}
}

func TestRequestOnlyConfigSkipsResponsePhase(t *testing.T) {
	f := build(t, &Config{Request: Ops{Set: map[string]string{"X-A": "1"}}})
	if _, ok := f.(filter.ResponseFilter); ok {
		t.Error("a request-only config must not take part in the response phase")
	}
}

func TestInvalidConfig(t *testing.T) {
	c := &Config{Request: Ops{Remove: []string{"bad name"}, Set: map[string]string{"X:Y": "v"}}}
	err := c.Validate()
	if err == nil {
		t.Fatal("invalid header names must be rejected")
	}
	for _, want := range []string{`request.remove[0]: "bad name" is not a valid header name`, `request.set: "X:Y" is not a valid header name`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	_, err = (&Config{Request: Ops{Set: map[string]string{"X-A": "{nope}"}}}).Build(&filter.BuildContext{RouteParams: []string{"id"}})
	if err == nil || !strings.Contains(err.Error(), `request.set["X-A"]: unknown placeholder {nope}`) {
		t.Errorf("unknown placeholder: got %v", err)
	}
}

func BenchmarkRequestSetStatic(b *testing.B) {
	f := build(&testing.T{}, &Config{Request: Ops{Set: map[string]string{"X-Gateway": "wasmgate"}}})
	r := httptest.NewRequest("GET", "/", nil)
	x := &filter.Exchange{Request: r}
	b.ReportAllocs()
	for b.Loop() {
		f.OnRequest(x)
	}
}
