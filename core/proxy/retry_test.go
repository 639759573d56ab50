package proxy

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/upstream"
)

// deadURL is an address nothing listens on: connects are refused. Port 1
// (tcpmux) is never served on a test machine; a port freed by closing a
// listener could be taken again by a parallel test.
func deadURL(*testing.T) string { return "http://127.0.0.1:1" }

func retries(on ...string) *config.Retries {
	return &config.Retries{
		Attempts: 3, On: on, Budget: 20, MinRetries: 3, BufferBody: 64 << 10,
		Backoff: config.Backoff{Base: config.Duration(time.Millisecond), Max: config.Duration(2 * time.Millisecond)},
	}
}

func multiUpstream(t *testing.T, tweak func(*config.Upstream), urls ...string) *upstream.Upstream {
	t.Helper()
	c := &config.Upstream{MaxIdlePerTarget: 8}
	for _, u := range urls {
		c.Targets = append(c.Targets, config.Target{URL: u, Weight: 1})
	}
	if tweak != nil {
		tweak(c)
	}
	up, err := upstream.New("test", c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(up.Close)
	return up
}

func TestRetryConnectFailureAnyMethod(t *testing.T) {
	var bodies atomic.Value
	good := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies.Store(string(b))
		w.Write([]byte("ok"))
	})
	up := multiUpstream(t, func(c *config.Upstream) { c.Retries = retries("connect_failure") }, deadURL(t), good.URL)
	front := startFront(t, &gateway{p: New(Options{}), up: up})
	for i := range 6 {
		// POST with a streamed (chunked) body: nothing was sent to the dead
		// target, so it is retried too.
		resp, err := http.Post(front.URL+"/x", "text/plain", io.MultiReader(strings.NewReader("hello "), strings.NewReader("world")))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "ok" || bodies.Load() != "hello world" {
			t.Fatalf("request %d: %d %q (upstream got %q), want the retry to reach the live target with the body", i, resp.StatusCode, b, bodies.Load())
		}
	}
	if made, _ := up.RetryStats(); made == 0 {
		t.Error("no retry counted")
	}
	if st := up.Status(); st.Active != 0 || st.Retrying != 0 || st.Targets[0].InFlight != 0 || st.Targets[1].InFlight != 0 {
		t.Errorf("counters leaked after the requests: %+v", st)
	}
}

func TestRetryStatusIdempotentOnly(t *testing.T) {
	var flaky, steady atomic.Int32
	bad := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		flaky.Add(1)
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(503)
	})
	good := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		steady.Add(1)
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	})
	up := multiUpstream(t, func(c *config.Upstream) { c.Retries = retries("503") }, bad.URL, good.URL)
	front := startFront(t, &gateway{p: New(Options{}), up: up})
	got503 := 0
	for range 10 {
		resp, err := http.Get(front.URL + "/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET: %d, want 200 after a retry away from the 503", resp.StatusCode)
		}
		resp, err = http.Post(front.URL+"/x", "text/plain", strings.NewReader("once"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 503 {
			got503++
		}
	}
	if got503 == 0 {
		t.Error("a POST answered 503 was retried; POST is not idempotent and the route did not opt in")
	}

	// With non_idempotent, a buffered POST body is resent whole.
	r := retries("503")
	r.NonIdempotent = true
	front = startFront(t, &gateway{p: New(Options{Retry: upstream.NewRetryPolicy(r)}), up: up})
	for range 10 {
		resp, err := http.Post(front.URL+"/x", "text/plain", strings.NewReader("twice is fine"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "twice is fine" {
			t.Errorf("POST with non_idempotent: %d %q, want the body resent to the good target", resp.StatusCode, b)
		}
	}
}

func TestRetryNotAfter1xx(t *testing.T) {
	var calls atomic.Int32
	bad := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(503)
	})
	up := multiUpstream(t, func(c *config.Upstream) { c.Retries = retries("503") }, bad.URL, bad.URL)
	front := startFront(t, &gateway{p: New(Options{}), up: up})
	resp, err := http.Get(front.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || calls.Load() != 1 {
		t.Errorf("status %d after %d attempts: a 103 went to the client, so no retry may follow", resp.StatusCode, calls.Load())
	}
}

func TestBreakerAnswers503Fast(t *testing.T) {
	var calls atomic.Int32
	bad := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(500)
	})
	up := multiUpstream(t, func(c *config.Upstream) {
		c.CircuitBreaker = &config.CircuitBreaker{ErrorRatio: 50, MinRequests: 5, Window: config.Duration(time.Minute), OpenFor: config.Duration(30 * time.Second), HalfOpenProbes: 1}
	}, bad.URL)
	front := startFront(t, &gateway{p: New(Options{}), up: up})
	for range 5 {
		resp, err := http.Get(front.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(front.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error  string `json:"error"`
		Status int    `json:"status"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "30" || body.Error != "upstream circuit breaker is open" {
		t.Errorf("open breaker: %d Retry-After %q body %+v, want 503, 30 and the reason", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if calls.Load() != 5 {
		t.Errorf("upstream got %d requests, want 5: none once the breaker is open", calls.Load())
	}
}

func TestRouteResponseHeaderTimeout(t *testing.T) {
	slow := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	up := newUpstream(t, slow.URL, nil)
	front := startFront(t, &gateway{p: New(Options{ResponseHeaderTimeout: 50 * time.Millisecond}), up: up})
	start := time.Now()
	resp, err := http.Get(front.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 504 || time.Since(start) > 2*time.Second {
		t.Errorf("%d after %v, want 504 soon after the 50ms header timeout", resp.StatusCode, time.Since(start))
	}
}
