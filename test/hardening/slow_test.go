package hardening

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const slowConfig = `
listeners:
  - name: main
    address: "127.0.0.1:0"
    max_header_bytes: 32KiB
    timeouts: { read_header: 1s, read: 1s, write: 2s, idle: 1s }
admin: { address: "off" }
server: { max_request_body: 64KiB, min_request_body_rate: { bytes_per_second: 1KiB, grace: 500ms } }
upstreams:
  up: { targets: [{ url: "{{.up}}" }] }
routes:
  - name: query
    match: { path: /q, query: [{ name: a }] }
    upstream: up
  - name: all
    upstream: up
`

// TestSlowAndGreedyClients runs each abusive client against one gateway
// while a well-behaved client keeps sending requests, and checks that each
// abuse is cut off by its timeout or limit with the right status, that the
// well-behaved client's p99 latency holds, and that no goroutine outlives
// the abuse.
func TestSlowAndGreedyClients(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	t.Cleanup(up.Close)
	gw := startInProcess(t, slowConfig, vars{"up": up.URL})
	url := "http://" + gw.Addr + "/"

	normal := &http.Client{Timeout: 5 * time.Second}
	// Warm up, then take the baseline.
	baseline := latencies(t, normal, url, 200)
	runtime.GC()
	base := runtime.NumGoroutine()

	// The well-behaved client runs during every attack below.
	var during []time.Duration
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			during = append(during, latencies(t, normal, url, 1)...)
			time.Sleep(2 * time.Millisecond) // pacing: a steady client, not one that competes with the attack
		}
	}()

	t.Run("slowloris headers", func(t *testing.T) {
		// 100 connections trickle a header byte every 100ms: read_header
		// (1s) ends each. net/http closes without a response (as nginx
		// does); if anything is written it must be a 408.
		var wg sync.WaitGroup
		closedIn := make([]time.Duration, 100)
		for i := range closedIn {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.Dial("tcp", gw.Addr)
				if err != nil {
					t.Error(err)
					return
				}
				defer c.Close()
				start := time.Now()
				io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ")
				go func() {
					for range 300 { // 30s of drip: longer than any bound below
						if _, err := c.Write([]byte("a")); err != nil {
							return
						}
						time.Sleep(100 * time.Millisecond) // slowloris: a byte every 100ms is the attack
					}
				}()
				_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
				got, _ := io.ReadAll(c)
				closedIn[i] = time.Since(start)
				if len(got) > 0 && !strings.HasPrefix(string(got), "HTTP/1.1 408") {
					t.Errorf("slowloris got %q", firstLine(string(got)))
				}
			}()
		}
		wg.Wait()
		// Uncut, a connection would live as long as the drip (30s); a
		// bound of seconds shows read_header (1s) cut it on any machine.
		if worst := slices.Max(closedIn); worst > 10*time.Second {
			t.Errorf("a slowloris connection lived %v; read_header is 1s", worst)
		}
	})

	t.Run("stalled body", func(t *testing.T) {
		// Headers promise 1000 bytes; 10 arrive, then nothing: 408, from
		// the minimum rate's deadline (the 500ms grace is used up first),
		// else from the read timeout (1s, per progress).
		resps, _ := exchange(t, gw.Addr, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n0123456789", 4*time.Second)
		if len(resps) == 0 || resps[0].Status != http.StatusRequestTimeout {
			t.Errorf("stalled body: %v, want 408", statuses(resps))
		}
	})

	t.Run("dripped body", func(t *testing.T) {
		// A byte every 200ms never lets the read timeout (1s per
		// progress) fire, and would take 200s for the 1000 bytes
		// promised; the minimum rate (1KiB/s after 500ms) ends it.
		c, err := net.Dial("tcp", gw.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		io.WriteString(c, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n")
		go func() {
			for range 1000 {
				if _, err := c.Write([]byte("d")); err != nil {
					return
				}
				time.Sleep(200 * time.Millisecond) // the drip is the attack
			}
		}()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("dripped body: no response: %v", err)
		}
		resp.Body.Close()
		if took := time.Since(start); resp.StatusCode != http.StatusRequestTimeout || took > 3*time.Second {
			t.Errorf("dripped body: %d after %v, want 408 within about the 500ms grace", resp.StatusCode, took)
		}
	})

	t.Run("idle connections", func(t *testing.T) {
		// 300 connections that never send a byte are closed after
		// read_header.
		conns := make([]net.Conn, 300)
		for i := range conns {
			c, err := net.Dial("tcp", gw.Addr)
			if err != nil {
				t.Fatal(err)
			}
			conns[i] = c
		}
		deadline := time.Now().Add(4 * time.Second)
		for _, c := range conns {
			_ = c.SetReadDeadline(deadline)
			if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
				t.Errorf("idle connection still open after 4s (read_header 1s): %v", err)
				break
			}
		}
		for _, c := range conns {
			c.Close()
		}
	})

	t.Run("huge header", func(t *testing.T) {
		resps, closed := exchange(t, gw.Addr, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: "+strings.Repeat("a", 40<<10)+"\r\n\r\n", 3*time.Second)
		if len(resps) == 0 || resps[0].Status != http.StatusRequestHeaderFieldsTooLarge || !closed {
			t.Errorf("huge header: %v closed=%v, want 431 and close", statuses(resps), closed)
		}
	})

	t.Run("many headers", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("GET / HTTP/1.1\r\nHost: a\r\n")
		for i := range 8000 {
			fmt.Fprintf(&b, "X-%d: 1\r\n", i)
		}
		b.WriteString("\r\n")
		resps, _ := exchange(t, gw.Addr, b.String(), 3*time.Second)
		if len(resps) == 0 || resps[0].Status != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("8000 headers: %v, want 431", statuses(resps))
		}
	})

	t.Run("huge declared body", func(t *testing.T) {
		resps, _ := exchange(t, gw.Addr, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10000000000\r\n\r\n", 3*time.Second)
		if len(resps) == 0 || resps[0].Status != http.StatusRequestEntityTooLarge {
			t.Errorf("10 GB Content-Length: %v, want 413", statuses(resps))
		}
	})

	t.Run("endless chunked body", func(t *testing.T) {
		c, err := net.Dial("tcp", gw.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
		sent := 0
		go func() {
			chunk := fmt.Sprintf("%x\r\n%s\r\n", 4096, strings.Repeat("b", 4096))
			for sent < 64<<20 {
				if _, err := io.WriteString(c, chunk); err != nil {
					return
				}
				sent += 4096
			}
		}()
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("endless body: %v %v, want 413", resp, err)
		}
	})

	t.Run("many query params", func(t *testing.T) {
		// More parameters than net/url parses (10,000) on a route that
		// matches on the query: refused with 400, not matched by accident.
		q := strings.Repeat("b&", 12000) + "a=1"
		resps, _ := exchange(t, gw.Addr, "GET /q?"+q+" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 3*time.Second)
		if len(resps) == 0 || resps[0].Status != http.StatusBadRequest {
			t.Errorf("12001 query params: %v, want 400", statuses(resps))
		}
		// Within the limit, the route matches.
		resps, _ = exchange(t, gw.Addr, "GET /q?"+strings.Repeat("b=1&", 2000)+"a=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 3*time.Second)
		if len(resps) == 0 || resps[0].Status != 200 {
			t.Errorf("2001 query params: %v, want 200", statuses(resps))
		}
	})

	close(stop)
	bg.Wait()
	normal.CloseIdleConnections()

	p99b, p99d := p99(baseline), p99(during)
	t.Logf("well-behaved client: baseline p99 %v (n=%d), during abuse p99 %v (n=%d)", p99b, len(baseline), p99d, len(during))
	// Abuse that starved the well-behaved client (a connection slot or a
	// goroutine it waits for) shows as seconds: the slow clients' own
	// timeouts. A loaded machine moves a loopback p99 by tens of
	// milliseconds, so the bound is 5x the baseline with a floor of 1s.
	if limit := max(5*p99b, time.Second); p99d > limit {
		t.Errorf("p99 during abuse %v, want at most %v", p99d, limit)
	}
	up.CloseClientConnections() // pooled upstream connections are not leaks
	if n := goroutines(base, 10, 5*time.Second); n > base+10 {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines: %d before the abuse, %d after; leaked:\n%s", base, n, buf[:runtime.Stack(buf, true)])
	} else {
		t.Logf("goroutines: %d before, %d after", base, n)
	}
}

func latencies(t *testing.T, c *http.Client, url string, n int) []time.Duration {
	out := make([]time.Duration, 0, n)
	for range n {
		start := time.Now()
		resp, err := c.Get(url)
		if err != nil {
			t.Errorf("well-behaved request failed: %v", err)
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("well-behaved request: %d", resp.StatusCode)
		}
		out = append(out, time.Since(start))
	}
	return out
}

func p99(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)*99/100]
}

func statuses(rs []*rawResp) []int {
	var out []int
	for _, r := range rs {
		out = append(out, r.Status)
	}
	return out
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
