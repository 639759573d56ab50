package cors

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/testutil"
)

const policy = `{
  allow_origins: ["https://app.example.com", "https://*.example.org"],
  allow_origin_regex: ['https://pr-[0-9]+\.preview\.example\.net'],
  allow_methods: [GET, POST, PUT],
  allow_headers: [Content-Type, Authorization],
  expose_headers: [X-Request-Id],
  allow_credentials: true,
  max_age: 10m
}`

func preflight(f filter.Filter, origin, method, headers string) *filter.Response {
	r := httptest.NewRequest("OPTIONS", "/api", nil)
	r.Header.Set("Origin", origin)
	r.Header.Set("Access-Control-Request-Method", method)
	if headers != "" {
		r.Header.Set("Access-Control-Request-Headers", headers)
	}
	x := &filter.Exchange{Request: r}
	resp := f.OnRequest(x)
	if resp != nil {
		x.Response = resp
		f.(filter.ResponseFilter).OnResponse(x)
	}
	return resp
}

func TestPreflight(t *testing.T) {
	f := testutil.MustBuild(t, "cors", policy, "")
	cases := []struct {
		origin, method, headers string
		status                  int
	}{
		{"https://app.example.com", "PUT", "content-type, authorization", 204},
		{"https://APP.example.com", "GET", "", 204},
		{"https://a.b.example.org", "POST", "Content-Type", 204},
		{"https://pr-42.preview.example.net", "GET", "", 204},
		{"https://example.org", "GET", "", 403},                    // the wildcard needs a subdomain
		{"https://evil.com#.example.org", "GET", "", 403},          // not a label
		{"https://evil.com/.example.org", "GET", "", 403},          // not a label
		{"http://app.example.com", "GET", "", 403},                 // scheme matters
		{"https://app.example.com.evil.com", "GET", "", 403},       // exact means exact
		{"https://pr-42.preview.example.net.evil", "GET", "", 403}, // regexes are anchored
		{"https://app.example.com", "DELETE", "", 403},
		{"https://app.example.com", "GET", "X-Secret", 403},
	}
	for _, c := range cases {
		resp := preflight(f, c.origin, c.method, c.headers)
		if resp == nil || resp.Status != c.status {
			t.Errorf("%s %s [%s]: %v, want %d", c.origin, c.method, c.headers, resp, c.status)
			continue
		}
		if c.status != 204 {
			continue
		}
		h := resp.Header
		want := map[string]string{
			"Access-Control-Allow-Origin":      c.origin,
			"Access-Control-Allow-Credentials": "true",
			"Access-Control-Allow-Methods":     "GET, POST, PUT",
			"Access-Control-Max-Age":           "600",
			"Access-Control-Allow-Headers":     c.headers,
		}
		for k, v := range want {
			if h.Get(k) != v {
				t.Errorf("%s: %s = %q, want %q", c.origin, k, h.Get(k), v)
			}
		}
		if !strings.Contains(h.Get("Vary"), "Origin") {
			t.Errorf("%s: Vary %q lacks Origin", c.origin, h.Get("Vary"))
		}
	}
}

func TestActualRequest(t *testing.T) {
	f := testutil.MustBuild(t, "cors", policy, "")
	run := func(origin string, resp *filter.Response) http.Header {
		r := httptest.NewRequest("GET", "/api", nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		x := &filter.Exchange{Request: r}
		if local := f.OnRequest(x); local != nil {
			t.Fatalf("a non-preflight request was answered: %d", local.Status)
		}
		x.Response = resp
		f.(filter.ResponseFilter).OnResponse(x)
		return resp.Header
	}
	h := run("https://app.example.com", &filter.Response{Status: 200, Header: http.Header{"Vary": {"Accept-Encoding"}}})
	if h.Get("Access-Control-Allow-Origin") != "https://app.example.com" || h.Get("Access-Control-Expose-Headers") != "X-Request-Id" || h.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("allowed origin: %v", h)
	}
	if v := h.Values("Vary"); len(v) != 2 || v[1] != "Origin" {
		t.Errorf("Vary %q, want Accept-Encoding then Origin", v)
	}
	h = run("https://evil.com", &filter.Response{Status: 200, Header: http.Header{}})
	if h.Get("Access-Control-Allow-Origin") != "" || h.Get("Vary") != "Origin" {
		t.Errorf("disallowed origin: %v", h)
	}
	// A local error (say, a 401 from a later auth filter) gets the headers too.
	h = run("https://app.example.com", filter.Error(401, "no"))
	if h.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Errorf("local 401: %v", h)
	}
	// OPTIONS without the preflight headers is an ordinary request.
	r := httptest.NewRequest("OPTIONS", "/api", nil)
	r.Header.Set("Origin", "https://app.example.com")
	if f.OnRequest(&filter.Exchange{Request: r}) != nil {
		t.Error("OPTIONS without Access-Control-Request-Method was answered")
	}
}

func TestAnyOrigin(t *testing.T) {
	f := testutil.MustBuild(t, "cors", `{allow_origins: ["*"], allow_headers: ["*"]}`, "")
	resp := preflight(f, "https://whatever.test", "GET", "X-Anything")
	if resp == nil || resp.Status != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("any origin: %v", resp)
	}
}

func TestCORSConfigErrors(t *testing.T) {
	for block, want := range map[string]string{
		`{}`: "at least one origin",
		`{allow_origins: ["*"], allow_credentials: true}`:        "cannot be used with allow_credentials",
		`{allow_origins: ["app.example.com"]}`:                   "scheme://host",
		`{allow_origins: ["https://a.*.example.com"]}`:           "first label",
		`{allow_origin_regex: ["("]}`:                            "not a valid RE2",
		`{allow_origins: ["https://a"], allow_headers: ["a b"]}`: "not a header name",
	} {
		if _, err := testutil.Build(t, "cors", block, ""); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", block, err, want)
		}
	}
}
