package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

const terminationConfig = head + `
observability: { metrics: { prometheus: true } }
upstreams:
  rec: { targets: [{ url: "{{.rec}}" }] }
routes:
  - name: maintenance
    match: { prefix: /old }
    filters:
      - request_termination:
          status: 503
          message: "down for maintenance until 14:00 UTC"
          headers: { Retry-After: "3600" }
    upstream: rec
  - name: api
    match: { prefix: /api }
    filters:
      - headers: { request: { set: { X-Tenant: acme } } }
      - request_termination: { trigger: X-Debug-Echo, echo: true, status: 200 }
    upstream: rec
`

// uriRecorder is an upstream that records the request target of every
// request it receives, then answers 200 "from upstream".
type uriRecorder struct {
	*httptest.Server
	mu   sync.Mutex
	uris []string
}

func newURIRecorder(t *testing.T) *uriRecorder {
	t.Helper()
	u := &uriRecorder{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.uris = append(u.uris, r.RequestURI)
		u.mu.Unlock()
		_, _ = w.Write([]byte("from upstream"))
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *uriRecorder) received() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.uris)
}

// request_termination through the real binary: terminated requests are
// answered by the gateway and never reach the upstream, requests without
// the trigger do, and the answers are counted in /metrics.
func TestRequestTermination(t *testing.T) {
	needBinary(t)
	rec := newURIRecorder(t)
	g := startGateway(t, terminationConfig, vars{"rec": rec.URL})

	// A route closed to everyone.
	resp, body := g.Get("/old/orders?id=7")
	e := checkError(t, resp.StatusCode, resp.Header, body, http.StatusServiceUnavailable)
	if e.Error != "down for maintenance until 14:00 UTC" || resp.Header.Get("Retry-After") != "3600" {
		t.Errorf("maintenance answer %q, Retry-After %q", body, resp.Header.Get("Retry-After"))
	}

	// Without the trigger the request goes through.
	resp, body = g.Get("/api/items?page=1")
	if resp.StatusCode != 200 || string(body) != "from upstream" {
		t.Errorf("untriggered request: %d %q, want the upstream's 200", resp.StatusCode, body)
	}

	// With the trigger, as a header or as a query parameter, the gateway
	// echoes the request, credentials hidden, and the upstream sees nothing.
	const secret = "e2e-secret-credential"
	for _, target := range []string{"/api/items?page=2", "/api/items?page=3&X-Debug-Echo"} {
		req := newRequest(t, http.MethodGet, g.URL(target), nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		if strings.Contains(target, "page=2") {
			req.Header.Set("X-Debug-Echo", "1")
		}
		resp, body = g.Do(req)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %s %q, want the echo", target, resp.StatusCode, resp.Header.Get("Content-Type"), body)
			continue
		}
		if strings.Contains(string(body), secret) {
			t.Errorf("%s: the echo shows the credential: %s", target, body)
		}
		var echo struct {
			Route   string `json:"route"`
			Request struct {
				Path    string              `json:"path"`
				Headers map[string][]string `json:"headers"`
			} `json:"request"`
		}
		if err := json.Unmarshal(body, &echo); err != nil {
			t.Fatalf("%s: echo %q: %v", target, body, err)
		}
		h := echo.Request.Headers
		if echo.Route != "api" || echo.Request.Path != "/api/items" ||
			!slices.Equal(h["Authorization"], []string{"[redacted]"}) || !slices.Equal(h["X-Tenant"], []string{"acme"}) {
			t.Errorf("%s: echo %s, want route api, the headers filter's X-Tenant and Authorization redacted", target, body)
		}
	}

	// One more request that passes: the upstream has received it after
	// everything sent before, so whatever it was not sent by now, it never is.
	if resp, body = g.Get("/api/after"); resp.StatusCode != 200 {
		t.Errorf("untriggered request after the echoes: %d %q", resp.StatusCode, body)
	}
	if got, want := rec.received(), []string{"/api/items?page=1", "/api/after"}; !slices.Equal(got, want) {
		t.Errorf("the upstream received %q, want only %q", got, want)
	}

	resp, body = g.AdminDo(newRequest(t, http.MethodGet, g.AdminURL("/metrics"), nil))
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	for _, sample := range []string{
		`wasmgate_request_termination_terminated_total{http_route="maintenance"} 1`,
		`wasmgate_request_termination_terminated_total{http_route="api"} 2`,
	} {
		if !strings.Contains(string(body), sample+"\n") {
			t.Errorf("no %s in /metrics", sample)
		}
	}
}
