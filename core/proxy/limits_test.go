package proxy

import (
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
)

// max_connections caps the connections to a target; requests past it wait
// for one, and max_pending bounds the waiters: one more is refused at once
// with 503, while the waiting one is served when the connection frees up.
func TestMaxConnectionsAndPending(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	entered := make(chan struct{}, 4)
	back := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		_, _ = io.WriteString(w, "ok")
	})
	up := newUpstream(t, back.URL, func(c *config.Upstream) {
		c.CircuitBreaker = &config.CircuitBreaker{MaxConnections: 1, MaxPending: 1}
	})
	front := startFront(t, &gateway{p: New(Options{}), up: up})
	t.Cleanup(free) // runs before the servers close: a failed check never hangs them

	results := make(chan int, 2)
	get := func() {
		resp, err := http.Get(front.URL)
		if err != nil {
			results <- 0
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		results <- resp.StatusCode
	}
	go get() // takes the only connection
	<-entered
	go get() // waits for it
	deadline := time.Now().Add(5 * time.Second)
	for up.Status().Pending != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("pending %d, want 1 request waiting for the connection", up.Status().Pending)
		}
		time.Sleep(5 * time.Millisecond) // polling the upstream's own count
	}
	select {
	case <-entered:
		t.Fatal("a second connection reached the backend past max_connections: 1")
	default:
	}

	resp := do(t, mustReq(t, "GET", front.URL))
	checkJSONError(t, resp, http.StatusServiceUnavailable, "upstream overloaded: too many requests waiting for a connection")

	free()
	for range 2 {
		if code := <-results; code != 200 {
			t.Errorf("a held or waiting request got %d, want 200", code)
		}
	}
	if n := up.Status().Breaker.Overflows; n != 1 {
		t.Errorf("overflows %d, want 1", n)
	}
}
