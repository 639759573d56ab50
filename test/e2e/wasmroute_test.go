package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/test/internal/gatewaytest"
)

// recordingUpstream names itself in its answers and records the request
// headers it received.
type recordingUpstream struct {
	*httptest.Server
	mu   sync.Mutex
	last http.Header
	hits int
}

func newRecordingUpstream(t *testing.T, name string) *recordingUpstream {
	u := &recordingUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.last, u.hits = r.Header.Clone(), u.hits+1
		u.mu.Unlock()
		w.Header().Set("X-Upstream", name)
		_, _ = io.WriteString(w, name+" "+r.Host+" "+r.URL.RequestURI())
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *recordingUpstream) seen() (http.Header, int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last, u.hits
}

// Two Go-SDK guests through the real binary: tenant-route moves a request to
// its tenant's route by rewriting :authority, and route-meta reads the route
// metadata of the route the request ends up on through properties. The
// recording upstreams show which route's upstream got the request; the
// access log and the metrics name that route.
func TestWasmRerouteByAuthorityAndRouteMetadata(t *testing.T) {
	needBinary(t)
	front, acme := newRecordingUpstream(t, "front"), newRecordingUpstream(t, "acme")
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	g := gatewaytest.Start(t, `
listeners: [{ name: main, address: "{{.listen}}" }]
admin: { address: "{{.admin}}" }
observability:
  metrics: { prometheus: true }
  access_log: { format: json, fields: [path, route, upstream, status] }
upstreams:
  front: { targets: [{ url: "{{.front}}" }] }
  acme:  { targets: [{ url: "{{.acme}}" }] }
plugins:
  tenants: { source: "{{.tenants}}", config: { hosts: { acme: acme.tenants.internal } } }
  meta:
    source: "{{.meta}}"
    config: { namespace: acme.route, fields: { tier: string, weight: number, beta: bool } }
routes:
  - name: acme
    match: { hosts: [acme.tenants.internal], prefix: /api }
    filters: [{ wasm: meta }]
    metadata:
      filter_metadata:
        acme.route: { tier: gold, weight: 2.5, beta: true }
    upstream: acme
  - name: front
    match: { prefix: /api }
    filters: [{ wasm: meta }, { wasm: tenants }]
    metadata:
      filter_metadata:
        acme.route: { tier: free }
    upstream: front
`, gatewaytest.Vars{
		"front": front.URL, "acme": acme.URL,
		"tenants": abs("../../plugins/tenant-route/tenant-route.wasm"),
		"meta":    abs("../../plugins/route-meta/route-meta.wasm"),
	}, gatewaytest.Options{})

	// A tenant's request moves to the tenant's route: its upstream, its
	// chain. route-meta runs on both routes (front's before the move, the
	// tenant route's after it, each its own context); the upstream sees what
	// the tenant route's saw: that route's name and metadata.
	req, _ := http.NewRequest("GET", g.URL("/api/orders?x=1"), nil)
	req.Header.Set("X-Tenant", "acme")
	resp, body := g.Do(req)
	if resp.StatusCode != 200 || resp.Header.Get("X-Upstream") != "acme" {
		t.Fatalf("status %d, upstream %q (%s): want the acme route's upstream", resp.StatusCode, resp.Header.Get("X-Upstream"), body)
	}
	if !strings.HasPrefix(string(body), "acme ") || !strings.HasSuffix(string(body), " /api/orders?x=1") {
		t.Errorf("acme upstream got %q, want GET /api/orders?x=1", body)
	}
	h, _ := acme.seen()
	for k, want := range map[string]string{"X-Route-Name": "acme", "X-Route-Tier": "gold", "X-Route-Weight": "2.5", "X-Route-Beta": "true"} {
		if got := h.Get(k); got != want {
			t.Errorf("acme upstream saw %s %q, want %q (the metadata of the route used); headers %v", k, got, want, h)
		}
	}
	if _, hits := front.seen(); hits != 0 {
		t.Errorf("the front upstream got %d requests, want 0", hits)
	}

	// Without a tenant the request stays on front, with front's metadata.
	resp, _ = g.Get("/api/orders")
	if resp.StatusCode != 200 || resp.Header.Get("X-Upstream") != "front" {
		t.Fatalf("status %d, upstream %q: want front's", resp.StatusCode, resp.Header.Get("X-Upstream"))
	}
	h, _ = front.seen()
	if h.Get("X-Route-Name") != "front" || h.Get("X-Route-Tier") != "free" || h.Get("X-Route-Weight") != "" {
		t.Errorf("front upstream saw %v, want front's name and metadata only", h)
	}

	// The access log and the metrics name the route actually used.
	err := g.Stdout.WaitFor(10*time.Second, nil, func(out []byte) bool {
		// path is logged without its query (it may carry credentials)
		return bytes.Contains(out, []byte(`"path":"/api/orders","route":"acme","upstream":"acme","status":200`))
	})
	if err != nil {
		t.Errorf("no access log line with route acme: %v\n%s", err, gatewaytest.Tail(g.Stdout.String(), 2000))
	}
	err = gatewaytest.Poll(10*time.Second, func() error {
		resp, body := g.AdminDo(mustRequest(t, "GET", g.AdminURL("/metrics")))
		if resp.StatusCode != 200 {
			return gatewaytest.Stop(fmt.Errorf("metrics: %d", resp.StatusCode))
		}
		for _, route := range []string{"acme", "front"} {
			if !bytes.Contains(body, []byte(`http_route="`+route+`"`)) {
				return fmt.Errorf("no request metric labelled http_route=%q", route)
			}
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}

	// The admin API shows the metadata as configured.
	resp, body = g.AdminDo(mustRequest(t, "GET", g.AdminURL("/config")))
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("acme.route: {tier: gold, weight: 2.5, beta: true}")) {
		t.Errorf("GET /config: %d, want the routes' metadata shown:\n%s", resp.StatusCode, body)
	}
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
