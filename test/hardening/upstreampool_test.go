package hardening

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// The gateway's own HTTP/1.1 upstream client (engine: native) pools its
// connections to each target. These tests run the real binary against
// upstreams that count the sockets they accept, so a connection the pool
// leaks, reuses when it must not, or fails to reuse shows up as a number.

const poolConfig = `
listeners: [{ address: "{{.listen}}" }]
admin: { address: "{{.admin}}" }
upstreams:
  up:
    targets: [{ url: "{{.up}}" }]
    engine: {{.engine}}
routes:
  - name: all
    upstream: up
`

// countingUpstream is an httptest server that counts the connections it
// accepted and those still open.
func countingUpstream(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32, *atomic.Int32) {
	t.Helper()
	var accepted, open atomic.Int32
	s := httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			accepted.Add(1)
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s, &accepted, &open
}

// TestUpstreamKeepAliveNoLeak: 10,000 requests from 4 keep-alive clients
// reach the upstream over at most 4 connections, all still open and
// reusable at the end: none leaked, none dropped for nothing. Both engines:
// std must stay a working fallback.
func TestUpstreamKeepAliveNoLeak(t *testing.T) {
	for _, engine := range []string{"std", "native"} {
		t.Run(engine, func(t *testing.T) { testKeepAliveNoLeak(t, engine) })
	}
}

func testKeepAliveNoLeak(t *testing.T, engine string) {
	const workers, total = 4, 10000
	up, accepted, open := countingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})
	p := startProcess(t, poolConfig, vars{"up": up.URL, "engine": engine})
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer client.CloseIdleConnections()
			for range total / workers {
				resp, err := client.Get(p.URL("/k"))
				if err != nil {
					failed.Add(1)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(b) != "ok" {
					failed.Add(1)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d clients saw a failed request", n)
	}
	// std returns a connection to its pool from its read goroutine, after
	// the body's end reached the caller: a request that comes in between
	// dials another. The native pool has it back before the body's last
	// Read returns.
	limit := int32(workers)
	if engine == "std" {
		limit = 2 * workers
	}
	if n := accepted.Load(); n > limit {
		t.Errorf("the upstream accepted %d connections for %d requests from %d clients, want at most %d", n, total, workers, limit)
	}
	// Native keeps every connection it opened. std may close the extra
	// ones its dial race opened (a surplus beyond its idle pool), never
	// more: the workers' own connections stay open.
	if a, o := accepted.Load(), open.Load(); engine == "native" && o != a || o < int32(workers) {
		t.Errorf("%d of %d upstream connections closed during steady keep-alive traffic", a-o, a)
	}
}

// TestStalePooledConnectionRetried: the upstream closes a kept-alive
// connection on the next request without answering (its keep-alive timeout
// racing the gateway's reuse). An idempotent request (PUT, or a POST with an
// Idempotency-Key) is sent again, once, on a fresh connection, body
// included, and the client never sees the race. A plain POST is not: the
// upstream had all of it and may have acted on it, so the client gets a 502
// and the upstream never sees it twice (RFC 9110 §9.2.2, as net/http).
func TestStalePooledConnectionRetried(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	var accepted atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := accepted.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for i := 0; ; i++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					b, _ := io.ReadAll(req.Body)
					mu.Lock()
					seen = append(seen, fmt.Sprintf("%d:%s %s", n, req.Method, b))
					mu.Unlock()
					if i == 1 {
						return // every connection's second request: closed unanswered
					}
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				}
			}()
		}
	}()
	p := startProcess(t, poolConfig, vars{"up": "http://" + ln.Addr().String(), "engine": "native"})
	for _, step := range []struct {
		method, body, key string
		status            int
	}{
		{"PUT", "first", "", 200},    // conn 1, answered
		{"PUT", "second", "", 200},   // conn 1 closes it; sent again on conn 2
		{"POST", "third", "k3", 200}, // conn 2 closes it; its key lets it go again, on conn 3
		{"POST", "fourth", "", 502},  // conn 3 closes it: not sent again
		{"POST", "fifth", "", 200},   // conn 4, answered
	} {
		req, _ := http.NewRequest(step.method, p.URL("/pay"), strings.NewReader(step.body))
		if step.key != "" {
			req.Header.Set("Idempotency-Key", step.key)
		}
		resp, err := p.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != step.status {
			t.Fatalf("%s %s: status %d, want %d", step.method, step.body, resp.StatusCode, step.status)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	want := "[1:PUT first 1:PUT second 2:PUT second 2:POST third 3:POST third 3:POST fourth 4:POST fifth]"
	if fmt.Sprint(seen) != want {
		t.Errorf("upstream saw %v, want %s", seen, want)
	}
}

// TestNoBodyResponsesKeepTheConnection: HEAD, 204 and 304 responses carry
// no body whatever their Content-Length says; the client gets them framed
// right, and the upstream connection serves the next request.
func TestNoBodyResponsesKeepTheConnection(t *testing.T) {
	for _, engine := range []string{"native", "std"} {
		t.Run(engine, func(t *testing.T) { testNoBodyResponses(t, engine) })
	}
}

func testNoBodyResponses(t *testing.T, engine string) {
	up, accepted, _ := countingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(204)
		case "/304":
			w.Header().Set("Content-Length", "10")
			w.WriteHeader(304)
		default:
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "hello")
		}
	})
	p := startProcess(t, poolConfig, vars{"up": up.URL, "engine": engine})
	for _, c := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"HEAD", "/head", 200, ""},
		{"GET", "/after-head", 200, "hello"},
		{"GET", "/204", 204, ""},
		{"GET", "/after-204", 200, "hello"},
		{"GET", "/304", 304, ""},
		{"GET", "/after-304", 200, "hello"},
	} {
		req, _ := http.NewRequest(c.method, p.URL(c.path), nil)
		resp, err := p.Client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", c.method, c.path, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != c.status || string(b) != c.body {
			t.Errorf("%s %s: %d %q %v, want %d %q", c.method, c.path, resp.StatusCode, b, err, c.status, c.body)
		}
		if c.method == "HEAD" && resp.ContentLength != 5 {
			t.Errorf("HEAD: Content-Length %d, want the upstream's 5", resp.ContentLength)
		}
	}
	if n := accepted.Load(); n != 1 {
		t.Errorf("the upstream accepted %d connections for six sequential requests, want 1", n)
	}
}

// TestChunkedTrailersRelayed: a chunked response's trailers, announced
// and not, reach an HTTP/1.1 client after the body.
func TestChunkedTrailersRelayed(t *testing.T) {
	up, _, _ := countingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		io.WriteString(w, "part one, ")
		w.(http.Flusher).Flush()
		io.WriteString(w, "part two")
		w.Header().Set("X-Checksum", "abc123")
		w.Header().Set(http.TrailerPrefix+"X-Late", "yes")
	})
	p := startProcess(t, poolConfig, vars{"up": up.URL, "engine": "native"})
	resp, err := p.Client.Get(p.URL("/t"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(b) != "part one, part two" {
		t.Fatalf("body %q, %v", b, err)
	}
	if resp.Trailer.Get("X-Checksum") != "abc123" || resp.Trailer.Get("X-Late") != "yes" {
		t.Errorf("trailers %v", resp.Trailer)
	}
}
