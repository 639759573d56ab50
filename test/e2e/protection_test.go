package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

const protectionConfig = head + `
observability: { metrics: { prometheus: true } }
upstreams:
  failing:
    targets: [{ url: "{{.failing}}" }]
    circuit_breaker: { error_ratio: 50%, min_requests: 4, window: 1m, open_for: 1h }
  narrow:
    targets: [{ url: "{{.held}}" }]
    circuit_breaker: { max_requests: 1 }
  shed:
    targets: [{ url: "{{.shed}}" }]
routes:
  - name: failing
    match: { prefix: /failing }
    upstream: failing
  - name: narrow
    match: { prefix: /narrow }
    upstream: narrow
  - name: bulk
    match: { prefix: /bulk }
    filters: [{ priority: { level: low, capacity: 4, group: g } }]
    upstream: shed
  - name: checkout
    match: { prefix: /checkout }
    filters: [{ priority: { level: critical, capacity: 4, group: g } }]
    upstream: shed
`

// The circuit breaker (error ratio, max_requests) and priority shedding
// through the real binary. Held requests wait at a barrier in the
// upstream, so "in flight" is a fact, not a timing.
func TestCircuitBreakerAndPriority(t *testing.T) {
	needBinary(t)
	var failed atomic.Int64
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		failed.Add(1)
		http.Error(w, "broken", http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)
	held, shed := newBlockingUpstream(t), newBlockingUpstream(t)
	g := startGateway(t, protectionConfig, vars{"failing": failing.URL, "held": held.URL, "shed": shed.URL})

	// hold sends GET path in the background and waits until it is held at
	// the upstream; the returned channel gets its status when released.
	hold := func(up *blockingUpstream, path string) chan int {
		t.Helper()
		done := make(chan int, 1)
		go func() {
			resp, err := http.Get(g.URL(path))
			if err != nil {
				done <- 0
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			done <- resp.StatusCode
		}()
		select {
		case <-up.arrived:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s was not held at the upstream", path)
		}
		return done
	}
	refused := func(up *blockingUpstream, path string, want int) {
		t.Helper()
		resp, body := g.Get(path)
		checkError(t, resp.StatusCode, resp.Header, body, want)
		if want == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s: 503 without Retry-After", path)
		}
		select {
		case <-up.arrived:
			t.Errorf("%s: the refused request reached the upstream", path)
		default:
		}
	}

	t.Run("error ratio opens the breaker", func(t *testing.T) {
		for i := range 4 {
			if resp, _ := g.Get(fmt.Sprintf("/failing/%d", i)); resp.StatusCode != 500 {
				t.Fatalf("request %d: %d, want the upstream's 500", i, resp.StatusCode)
			}
		}
		refused(held, "/failing/open", http.StatusServiceUnavailable)
		if n := failed.Load(); n != 4 {
			t.Errorf("the upstream got %d requests, want the 4 before the breaker opened", n)
		}
		if v, ok := g.Metric("wasmgate_upstream_circuit_breaker_state", "upstream=failing"); !ok || v != 2 {
			t.Errorf("wasmgate_upstream_circuit_breaker_state{upstream=failing} = %v (%v), want 2 (open)", v, ok)
		}
	})

	t.Run("max_requests", func(t *testing.T) {
		first := hold(held, "/narrow/1")
		refused(held, "/narrow/2", http.StatusServiceUnavailable)
		held.open()
		if st := <-first; st != 200 {
			t.Errorf("held request: %d, want 200", st)
		}
	})

	t.Run("priority", func(t *testing.T) {
		// low is admitted under 50% of 4 in flight: two.
		a, b := hold(shed, "/bulk/1"), hold(shed, "/bulk/2")
		refused(shed, "/bulk/3", http.StatusServiceUnavailable)
		// critical keeps headroom up to 100%.
		c, d := hold(shed, "/checkout/1"), hold(shed, "/checkout/2")
		refused(shed, "/checkout/3", http.StatusServiceUnavailable)
		shed.open()
		for i, ch := range []chan int{a, b, c, d} {
			if st := <-ch; st != 200 {
				t.Errorf("held request %d: %d, want 200", i, st)
			}
		}
	})
}
