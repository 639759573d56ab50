package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wasmgate/wasmgate/test/internal/gatewaytest"
)

const sharedCacheConfig = head + `
observability: { metrics: { prometheus: true } }
stores:
  redis: { address: "{{.redis}}", key_prefix: "{{.prefix}}", dial_timeout: 5s, read_timeout: 5s, write_timeout: 5s }
upstreams:
  origin: { targets: [{ url: "{{.origin}}" }] }
routes:
  - name: shared
    match: { prefix: /shared/ }
    filters: [{ cache: { store: redis } }]
    upstream: origin
  - name: local
    match: { prefix: /local/ }
    filters: [{ cache: {} }]
    upstream: origin
`

// A Redis-backed cache shared by two gateway processes: what one stored the
// other answers from, without the upstream; a purge through either's admin
// API empties it for both. The memory store beside it is each process's own.
func TestSharedCacheTwoGateways(t *testing.T) {
	needBinary(t)
	redis := gatewaytest.StartRedis(t)
	var hits atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := hits.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("ETag", `"e1"`)
		w.Header().Set("Vary", "Accept-Language")
		fmt.Fprintf(w, "%s %s #%d", r.URL.Path, r.Header.Get("Accept-Language"), n)
	}))
	defer origin.Close()
	v := vars{"redis": redis, "prefix": "e2e-" + t.Name() + ":", "origin": origin.URL}
	gws := []*gateway{startGateway(t, sharedCacheConfig, v), startGateway(t, sharedCacheConfig, v)}

	get := func(g *gateway, path, lang string) (string, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", g.URL(path), nil)
		req.Header.Set("Accept-Language", lang)
		// One name for both, as clients behind a balancer send: the key
		// holds the host.
		req.Host = "api.test"
		resp, body := g.Do(req)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		return resp.Header.Get("Cache-Status"), string(body)
	}
	cs, first := get(gws[0], "/shared/a", "en")
	if !strings.Contains(cs, "fwd=uri-miss; stored") {
		t.Fatalf("first request: Cache-Status %q", cs)
	}
	cs, body := get(gws[1], "/shared/a", "en")
	if !strings.Contains(cs, "wasmgate; hit") || body != first {
		t.Errorf("the other gateway: Cache-Status %q body %q, want a hit with %q", cs, body, first)
	}
	if cs, _ := get(gws[1], "/shared/a", "de"); !strings.Contains(cs, "vary-miss") {
		t.Errorf("another variant: Cache-Status %q, want vary-miss", cs)
	}
	if cs, _ := get(gws[0], "/shared/a", "de"); !strings.Contains(cs, "hit") {
		t.Errorf("the variant the other gateway stored: Cache-Status %q", cs)
	}
	if n := hits.Load(); n != 2 {
		t.Errorf("the upstream saw %d requests, want 2 (one per variant)", n)
	}

	// Memory stores are per process.
	get(gws[0], "/local/a", "en")
	if cs, _ := get(gws[1], "/local/a", "en"); !strings.Contains(cs, "uri-miss") {
		t.Errorf("a memory store was shared: %q", cs)
	}
	if cs, _ := get(gws[1], "/local/a", "en"); !strings.Contains(cs, "hit") {
		t.Errorf("memory store: %q", cs)
	}

	// Purge by prefix through the first gateway's admin API.
	req, _ := http.NewRequest("POST", gws[0].AdminURL("/cache/purge"),
		strings.NewReader(`{"route": "shared", "prefix": "GET api.test/shared/"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, out := gws[0].AdminDo(req)
	if resp.StatusCode != 200 || !strings.Contains(string(out), `"purged":3`) {
		t.Fatalf("purge: %d %s, want 3 purged (a marker and two variants)", resp.StatusCode, out)
	}
	// Asked of the other gateway (a request to the first would store the
	// entry again for both).
	if cs, _ := get(gws[1], "/shared/a", "en"); !strings.Contains(cs, "uri-miss") {
		t.Errorf("the other gateway after purge: Cache-Status %q, want uri-miss", cs)
	}
	if n, ok := gws[1].Metric("wasmgate_cache_lookups_total", "http_route=shared", "result=hit"); !ok || n < 1 {
		t.Errorf("wasmgate_cache_lookups_total{http_route=shared,result=hit} = %v (%v), want >= 1", n, ok)
	}
}
