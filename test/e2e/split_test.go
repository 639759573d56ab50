package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

const splitConfig = head + `
observability: { metrics: { prometheus: true } }
upstreams:
  v1: { targets: [{ url: "{{.v1}}" }] }
  v2: { targets: [{ url: "{{.v2}}" }] }
routes:
  - name: spread
    match: { prefix: /spread }
    split: [{ upstream: v1, weight: 95 }, { upstream: v2, weight: 5 }]
  - name: sticky
    match: { prefix: /sticky }
    split: [{ upstream: v1, weight: 95 }, { upstream: v2, weight: 5 }]
    split_by: { header: X-User }
    split_force: { header: X-Canary }
  - name: cookie
    match: { prefix: /cookie }
    split: [{ upstream: v1, weight: 50 }, { upstream: v2, weight: 50 }]
    split_by: { cookie: sid }
    split_force: { cookie: canary }
`

// TestSplit sends traffic through the binary to a route split 95/5: the
// spread holds over 10,000 requests, a key keeps its client on one side,
// and a forcing header or cookie picks the side.
func TestSplit(t *testing.T) {
	needBinary(t)
	side := func(name string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) }))
		t.Cleanup(s.Close)
		return s
	}
	g := startGateway(t, splitConfig, vars{"v1": side("v1").URL, "v2": side("v2").URL})
	get := func(path string, h ...string) string {
		t.Helper()
		req := newRequest(t, "GET", g.URL(path), nil)
		for i := 0; i+1 < len(h); i += 2 {
			req.Header.Set(h[i], h[i+1])
		}
		resp, body := g.Do(req)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		return string(body)
	}

	t.Run("ratio", func(t *testing.T) {
		// The keyless spread is a counter over the weights' slots, not a
		// coin: 10,000 requests are exactly 9,500 and 500, whatever their
		// order. ±2% (200) is the bound.
		const n = 10000
		var v2 atomic.Int64
		var wg sync.WaitGroup
		work := make(chan struct{})
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range work {
					if get("/spread") == "v2" {
						v2.Add(1)
					}
				}
			}()
		}
		for range n {
			work <- struct{}{}
		}
		close(work)
		wg.Wait()
		if got := v2.Load(); got < 500-200 || got > 500+200 {
			t.Errorf("v2 took %d of %d requests, want 500 ± 200", got, n)
		} else if got != 500 {
			t.Logf("v2 took %d (the counter makes it exactly 500 unless requests were lost)", got)
		}
		if v, _ := g.Metric("wasmgate_route_split_requests_total", "route=spread", "upstream=v2", "by=weight"); v != float64(v2.Load()) {
			t.Errorf("metric for route spread, side v2: %v, want %d", v, v2.Load())
		}
	})

	t.Run("sticky", func(t *testing.T) {
		// Every user lands on one side, each time; about 5% of users on
		// the canary. The hash is fixed (FNV-1a), so the share of these
		// 2,000 names is too: the bound (5% ± 2%, i.e. 60 to 140 of 2,000;
		// σ ≈ 10 for a fair hash) cannot flake.
		const users = 2000
		onV2 := 0
		for u := range users {
			user := fmt.Sprintf("user-%d", u)
			first := get("/sticky", "X-User", user)
			for range 2 {
				if again := get("/sticky", "X-User", user); again != first {
					t.Fatalf("%s went to %s, then %s", user, first, again)
				}
			}
			if first == "v2" {
				onV2++
			}
		}
		if onV2 < 60 || onV2 > 140 {
			t.Errorf("%d of %d users on v2, want 5%% ± 2%%", onV2, users)
		}
	})

	t.Run("force", func(t *testing.T) {
		for u := range 50 {
			user := fmt.Sprintf("user-%d", u)
			if got := get("/sticky", "X-User", user, "X-Canary", "v2"); got != "v2" {
				t.Fatalf("X-Canary: v2 for %s went to %s", user, got)
			}
			if got := get("/sticky", "X-User", user, "X-Canary", "v1"); got != "v1" {
				t.Fatalf("X-Canary: v1 for %s went to %s", user, got)
			}
		}
		// A value that names no side is ignored: the key decides.
		if a, b := get("/sticky", "X-User", "u", "X-Canary", "v3"), get("/sticky", "X-User", "u"); a != b {
			t.Errorf("an unknown forced side changed the choice: %s, then %s", a, b)
		}
		if v, _ := g.Metric("wasmgate_route_split_requests_total", "route=sticky", "upstream=v2", "by=force"); v != 50 {
			t.Errorf("forced requests to v2 counted %v, want 50", v)
		}
	})

	t.Run("cookies", func(t *testing.T) {
		sides := map[string]int{}
		for u := range 200 {
			sid := fmt.Sprintf("sid=s%d", u)
			first := get("/cookie", "Cookie", sid)
			if again := get("/cookie", "Cookie", sid+"; theme=dark"); again != first {
				t.Fatalf("%s went to %s, then %s", sid, first, again)
			}
			sides[first]++
			if got := get("/cookie", "Cookie", sid+"; canary=v2"); got != "v2" {
				t.Fatalf("canary=v2 cookie went to %s", got)
			}
		}
		if sides["v1"] < 60 || sides["v2"] < 60 {
			t.Errorf("200 session cookies on a 50/50 split: %v", sides)
		}
	})
}
