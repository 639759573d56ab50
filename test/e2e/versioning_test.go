package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"
)

const versioningConfig = head + `
observability: { metrics: { prometheus: true } }
versioning: { by: path, default: v1 }
consumers:
  - { name: mobile, api_keys: [{ sha256: "{{.key_sha256}}" }] }
upstreams:
  v1: { targets: [{ url: "{{.v1}}" }] }
  v2: { targets: [{ url: "{{.v2}}" }] }
routes:
  - name: users-v1
    version: v1
    match: { prefix: /users }
    filters: [{ apikey: {} }]
    deprecation: { at: 2024-01-01, sunset: "2999-01-01", link: "https://docs.example.com/v2" }
    upstream: v1
  - name: users-v2
    version: v2
    match: { prefix: /users }
    upstream: v2
  - name: legacy
    match: { prefix: /legacy }
    deprecation: { at: 2020-01-01, sunset: 2021-01-01 }
    upstream: v1
`

// Version routing and deprecation through the binary: the version segment
// picks the upstream and is taken off the path it receives; a deprecated
// route's answers carry its headers and are counted by consumer; a retired
// route answers 410 and never reaches its upstream.
func TestVersioningAndDeprecation(t *testing.T) {
	needBinary(t)
	v1, v2 := newEcho(t, "v1"), newEcho(t, "v2")
	const key = "e2e-versioning-key-0123456789"
	sum := sha256.Sum256([]byte(key))
	g := startGateway(t, versioningConfig, vars{"v1": v1.URL, "v2": v2.URL, "key_sha256": hex.EncodeToString(sum[:])})

	for _, tc := range []struct{ target, upstream, path string }{
		{"/v2/users/7", "v2", "/users/7"},
		{"/V2/users/7", "v2", "/users/7"},
		{"/v1/users/7", "v1", "/users/7"},
		{"/users/7", "v1", "/users/7"}, // the default
	} {
		req := newRequest(t, http.MethodGet, g.URL(tc.target), nil)
		req.Header.Set("X-API-Key", key)
		resp, body := g.Do(req)
		s := decodeSeen(t, resp.StatusCode, body)
		if resp.StatusCode != 200 || s.Upstream != tc.upstream || s.Path != tc.path {
			t.Errorf("%s: %d reached %q with path %q; want %s with %s", tc.target, resp.StatusCode, s.Upstream, s.Path, tc.upstream, tc.path)
		}
		if dep := resp.Header.Get("Deprecation"); (tc.upstream == "v1") != (dep == "@1704067200") {
			t.Errorf("%s: Deprecation %q", tc.target, dep)
		}
		if tc.upstream == "v1" && (resp.Header.Get("Sunset") != "Tue, 01 Jan 2999 00:00:00 GMT" ||
			resp.Header.Get("Link") != `<https://docs.example.com/v2>; rel="deprecation"; type="text/html"`) {
			t.Errorf("%s: Sunset %q Link %q", tc.target, resp.Header.Get("Sunset"), resp.Header.Get("Link"))
		}
	}
	before := v1.hits.Load()
	resp, body := g.Get("/legacy/x")
	checkError(t, resp.StatusCode, resp.Header, body, http.StatusGone)
	if resp.Header.Get("Sunset") != "Fri, 01 Jan 2021 00:00:00 GMT" {
		t.Errorf("retired route's Sunset %q", resp.Header.Get("Sunset"))
	}
	if n := v1.hits.Load(); n != before {
		t.Errorf("the retired route reached its upstream (%d requests)", n-before)
	}
	if v, ok := g.Metric("wasmgate_deprecated_requests_total", "http_route=users-v1", "consumer=mobile", `sunset=false`); !ok || v != 2 {
		t.Errorf("deprecated requests by mobile: %v (found %v), want 2", v, ok)
	}
	if v, ok := g.Metric("wasmgate_deprecated_requests_total", "http_route=legacy", "consumer=", `sunset=true`); !ok || v != 1 {
		t.Errorf("retired route's refusals: %v (found %v), want 1", v, ok)
	}
}
