package e2e

import (
	"net/http"
	"testing"
)

const headersConfig = head + `
upstreams:
  a: { targets: [{ url: "{{.a}}" }] }

filter_chains:
  common:
    - headers: { response: { set: { X-Served-By: wasmgate } } }

routes:
  - name: user
    match: { path: "/users/{id}" }
    filters:
      - chain: common
      - headers:
          request:
            set: { X-User-Id: "{id}", X-Method: "{request.method}" }
            remove: [X-Drop-Me]
          response:
            set: { X-Upstream: "via {route.name}", X-Cache: miss }
            remove: [X-Internal]
    upstream: a
  - name: plain
    match: { path: /plain }
    upstream: a
`

func TestHeadersFilter(t *testing.T) {
	needBinary(t)
	a := newEcho(t, "a")
	g := startGateway(t, headersConfig, vars{"a": a.URL})

	req := newRequest(t, http.MethodGet, g.URL("/users/42"), nil)
	req.Header.Set("X-Drop-Me", "1")
	req.Header.Set("X-User-Id", "spoofed")
	resp, body := g.Do(req)
	s := decodeSeen(t, resp.StatusCode, body)

	requestWant := map[string]string{"X-User-Id": "42", "X-Method": "GET", "X-Drop-Me": ""}
	for k, want := range requestWant {
		if got := s.Header.Values(k); (want == "" && len(got) != 0) || (want != "" && (len(got) != 1 || got[0] != want)) {
			t.Errorf("upstream saw %s: %q, want %q", k, got, want)
		}
	}
	responseWant := map[string]string{
		"X-Served-By": "wasmgate", // from the named chain
		"X-Upstream":  "via user", // set replaces the upstream's value
		"X-Cache":     "miss",
		"X-Internal":  "", // removed
	}
	for k, want := range responseWant {
		if got := resp.Header.Values(k); (want == "" && len(got) != 0) || (want != "" && (len(got) != 1 || got[0] != want)) {
			t.Errorf("client saw %s: %q, want %q", k, got, want)
		}
	}

	// Without filters the upstream's headers pass untouched.
	resp, body = g.Get("/plain")
	decodeSeen(t, resp.StatusCode, body)
	if resp.Header.Get("X-Internal") != "upstream-secret" || resp.Header.Get("X-Served-By") != "" {
		t.Errorf("route without filters: X-Internal %q, X-Served-By %q; want the upstream's headers unchanged",
			resp.Header.Get("X-Internal"), resp.Header.Get("X-Served-By"))
	}
}
