package hardening

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// hostile is a raw-TCP upstream that answers each request with whatever
// its path's script writes, byte for byte. It counts requests per path.
type hostile struct {
	ln     net.Listener
	script map[string]func(c net.Conn)
	hits   map[string]*atomic.Int32
}

func newHostile(t *testing.T, script map[string]func(c net.Conn)) *hostile {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &hostile{ln: ln, script: script, hits: map[string]*atomic.Int32{}}
	for p := range script {
		h.hits[p] = new(atomic.Int32)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go h.serve(c)
		}
	}()
	return h
}

func (h *hostile) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		f := h.script[req.URL.Path]
		if f == nil {
			io.WriteString(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
			continue
		}
		h.hits[req.URL.Path].Add(1)
		f(c)
		return // one exchange per connection: scripts may leave it broken
	}
}

func writeRaw(s string) func(net.Conn) { return func(c net.Conn) { io.WriteString(c, s) } }

// waitSent waits (up to 5s) until the peer has acknowledged every byte
// written to c. Where that cannot be known it returns at once: on loopback a
// small write is delivered before the write call returns.
func waitSent(c net.Conn) {
	deadline := time.Now().Add(5 * time.Second)
	for unsent(c) > 0 && time.Now().Before(deadline) {
		runtime.Gosched() // poll the socket's send queue
	}
}

// reset closes the connection with RST instead of FIN.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}

const hostileConfig = `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
upstreams:
  # Only /hang meets the response header timeout. The other scripts'
  # upstream waits long enough that on a machine loaded enough to starve
  # the script's goroutine for a moment they still end in what they test
  # (a head over the cap, a 1xx flood, a bad status), never in a 504.
  bad:
    targets: [{ url: "{{.bad}}" }]
    timeouts: { connect: 1s, response_header: 30s }
    retries: { attempts: 3, on: [connect_failure, reset, "502", "503"], backoff: { base: 1ms, max: 2ms } }
  hang:
    targets: [{ url: "{{.bad}}" }]
    timeouts: { connect: 1s, response_header: 500ms }
    retries: { attempts: 3, on: [connect_failure, reset, "502", "503"], backoff: { base: 1ms, max: 2ms } }
  nodns:
    targets: [{ url: "http://gateway-test.invalid:80" }]
    timeouts: { connect: 1s }
routes:
  - name: nodns
    match: { prefix: /nodns }
    upstream: nodns
  - name: hang
    match: { prefix: /hang }
    upstream: hang
  - name: endless
    match: { prefix: /endless }
    timeouts: { request: 1s }
    upstream: bad
  - name: bad
    upstream: bad
`

// TestHostileUpstreams: whatever a broken upstream sends, the client gets a
// quick 502/504, or a response that is visibly cut short (a read error, never
// a short body that looks complete), and a non-idempotent request is never
// sent twice.
func TestHostileUpstreams(t *testing.T) {
	big := strings.Repeat("x", 1000)
	h := newHostile(t, map[string]func(net.Conn){
		"/hang":        func(c net.Conn) { time.Sleep(5 * time.Second) }, // hangs on purpose, past response_header (500ms)
		"/reset-early": reset,
		"/reset-mid-body": func(c net.Conn) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"+big)
			// A reset discards what is still unsent (SO_LINGER 0): wait
			// until the gateway has acknowledged the head and body start,
			// so that the reset really comes mid-body.
			waitSent(c)
			reset(c)
		},
		"/eof-mid-body":       writeRaw("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + big),
		"/eof-mid-chunked":    writeRaw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n" + big + "\r\n"),
		"/bad-status":         writeRaw("HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n"),
		"/not-http":           writeRaw("hello there\r\n\r\n"),
		"/bad-header-name":    writeRaw("HTTP/1.1 200 OK\r\nX A: b\r\nContent-Length: 0\r\n\r\n"),
		"/bare-cr-header":     writeRaw("HTTP/1.1 200 OK\r\nX-A: b\rSet-Cookie: evil=1\r\nContent-Length: 0\r\n\r\n"),
		"/two-lengths":        writeRaw("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nhello"),
		"/cl-and-te":          writeRaw("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
		"/bad-chunk":          writeRaw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
		"/endless":            func(c net.Conn) { endless(c) },
		"/1xx-flood":          writeRaw(strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n", 200) + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
		"/huge-header":        writeRaw("HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 2<<20) + "\r\nContent-Length: 0\r\n\r\n"),
		"/response-splitting": writeRaw("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"),
		"/obs-fold":           writeRaw("HTTP/1.1 200 OK\r\nX-A: b\r\n Content-Length: 4\r\nContent-Length: 2\r\n\r\nok"),
		"/bare-lf":            writeRaw("HTTP/1.1 200 OK\nContent-Length: 2\n\nok"),
		"/te-http10":          writeRaw("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"),
		"/close-after-head":   writeRaw("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"),
		"/length-list":        writeRaw("HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok"),
	})
	gw := startInProcess(t, hostileConfig, vars{"bad": "http://" + h.ln.Addr().String()})
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

	type want int
	const (
		status   want = iota // an error status from the gateway
		aborted              // a started response that breaks while read
		complete             // a well-framed response with exactly this body
	)
	// quick bounds every case to catch a hang, such as waiting out the 30 s
	// response header timeout; it is no performance bound, which a loaded
	// machine would break.
	const quick = 5 * time.Second
	cases := []struct {
		path   string
		want   want
		status int
		body   string
	}{
		{"/hang", status, 504, ""},
		{"/reset-early", status, 502, ""},
		{"/reset-mid-body", aborted, 200, ""},
		{"/eof-mid-body", aborted, 200, ""},
		{"/eof-mid-chunked", aborted, 200, ""},
		{"/bad-status", status, 502, ""},
		{"/not-http", status, 502, ""},
		{"/bad-header-name", complete, 200, ""}, // the invalid field is dropped, below
		{"/bare-cr-header", status, 502, ""},
		{"/two-lengths", status, 502, ""},
		{"/cl-and-te", complete, 200, "hello"}, // chunked wins, Content-Length dropped (RFC 9112 §6.3)
		{"/bad-chunk", aborted, 200, ""},
		{"/endless", aborted, 200, ""},
		{"/1xx-flood", status, 502, ""},
		{"/huge-header", status, 502, ""},
		{"/response-splitting", complete, 200, "ok"},
		{"/obs-fold", status, 502, ""},
		{"/bare-lf", status, 502, ""},
		{"/te-http10", status, 502, ""},
		{"/close-after-head", aborted, 200, ""},
		{"/length-list", status, 502, ""},
	}
	for _, c := range cases {
		t.Run(strings.TrimPrefix(c.path, "/"), func(t *testing.T) {
			start := time.Now()
			resp, err := client.Get("http://" + gw.Addr + c.path)
			if err != nil && c.want == aborted {
				return // aborted before the headers left the gateway's buffer: as good
			}
			if err != nil {
				t.Fatalf("request failed before a response: %v", err)
			}
			body, berr := io.ReadAll(resp.Body)
			resp.Body.Close()
			took := time.Since(start)
			if took > quick {
				t.Errorf("took %v, want within %v", took, quick)
			}
			if resp.StatusCode != c.status {
				t.Errorf("status %d, want %d (body %.80q)", resp.StatusCode, c.status, body)
			}
			switch c.want {
			case status:
				if berr != nil || !bytes.Contains(body, []byte(`"status":`)) {
					t.Errorf("want the gateway's JSON error; got %.80q, %v", body, berr)
				}
			case aborted:
				if berr == nil {
					t.Errorf("response read as complete (%d bytes); a cut-short upstream body must reach the client cut short", len(body))
				}
			case complete:
				if berr != nil || string(body) != c.body {
					t.Errorf("body %q, %v; want %q", body, berr, c.body)
				}
				for k := range resp.Header {
					if strings.ContainsAny(k, " \r\n") {
						t.Errorf("invalid field name %q reached the client", k)
					}
				}
				if len(resp.TransferEncoding) > 0 && resp.ContentLength >= 0 {
					t.Errorf("response framed both ways")
				}
			}
		})
	}

	t.Run("no retry of POST", func(t *testing.T) {
		// A fresh upstream and gateway: no pooled connection that the
		// scripts above closed can fail the POST before it is sent.
		h := newHostile(t, map[string]func(net.Conn){"/post-reset": reset, "/get-reset": reset})
		gw := startInProcess(t, hostileConfig, vars{"bad": "http://" + h.ln.Addr().String()})
		resp, err := client.Post("http://"+gw.Addr+"/post-reset", "text/plain", strings.NewReader("pay once"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 502 {
			t.Errorf("status %d, want 502", resp.StatusCode)
		}
		if n := h.hits["/post-reset"].Load(); n != 1 {
			t.Errorf("the upstream saw the POST %d times, want exactly once", n)
		}
		// The same failure on a GET is retried: the policy is live, and it
		// is the method that kept the POST from being sent again.
		resp, err = client.Get("http://" + gw.Addr + "/get-reset")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if n := h.hits["/get-reset"].Load(); n != 3 {
			t.Errorf("the upstream saw the GET %d times, want 3 (attempts: 3)", n)
		}
	})

	t.Run("DNS failure", func(t *testing.T) {
		start := time.Now()
		resp, err := client.Get("http://" + gw.Addr + "/nodns")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 502 && resp.StatusCode != 503 {
			t.Errorf("status %d, want 502 (or 503 with no resolvable target)", resp.StatusCode)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("took %v", took)
		}
	})
}

// endless streams chunks until the peer goes away.
func endless(c net.Conn) {
	io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
	chunk := fmt.Sprintf("%x\r\n%s\r\n", 1024, strings.Repeat("e", 1024))
	for {
		if _, err := io.WriteString(c, chunk); err != nil {
			return
		}
		time.Sleep(time.Millisecond) // pacing: a steady stream, not a burst that fills the buffers at once
	}
}

const toxicConfig = `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
upstreams:
  # response_header is the only bound the latency case meets; the others
  # (the baseline, tiny slices) must not meet it on a loaded machine.
  toxic:
    targets: [{ url: "{{.toxic}}" }]
    timeouts: { connect: 1s, response_header: 2s }
    retries: { attempts: 1 }
routes:
  - name: toxic
    upstream: toxic
`

// TestToxicUpstream puts a fault proxy between the gateway and a healthy
// upstream and injects latency, resets, slicing and cut-off data.
func TestToxicUpstream(t *testing.T) {
	payload := strings.Repeat("0123456789", 10<<10) // 100 KiB
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(payload)))
		io.WriteString(w, payload)
	}))
	t.Cleanup(up.Close)

	proxy := newFaultProxy(t, up.Listener.Addr().String())
	gw := startInProcess(t, toxicConfig, vars{"toxic": "http://" + proxy.addr()})

	get := func() (int, string, error, time.Duration) {
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		start := time.Now()
		resp, err := c.Get("http://" + gw.Addr + "/")
		if err != nil {
			return 0, "", err, time.Since(start)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), err, time.Since(start)
	}
	t.Run("baseline", func(t *testing.T) {
		if st, body, err, _ := get(); st != 200 || body != payload || err != nil {
			t.Fatalf("%d, %d bytes, %v", st, len(body), err)
		}
	})
	t.Run("latency past response_header", func(t *testing.T) {
		// A response that waited the latency out would be a 200: the 504
		// shows response_header cut it; the bound only catches a hang.
		proxy.inject(t, fault{latency: 10 * time.Second})
		st, _, err, took := get()
		if st != 504 || err != nil || took > 8*time.Second {
			t.Errorf("%d %v after %v; want 504 after ~2s", st, err, took)
		}
	})
	t.Run("reset", func(t *testing.T) {
		proxy.inject(t, fault{reset: true})
		st, _, err, took := get()
		if st != 502 || err != nil || took > 5*time.Second {
			t.Errorf("%d %v after %v; want a quick 502", st, err, took)
		}
	})
	t.Run("sliced", func(t *testing.T) {
		proxy.inject(t, fault{slice: 64, variation: 60, sliceDelay: time.Microsecond})
		before := proxy.writes.Load()
		st, body, err, _ := get()
		if st != 200 || err != nil || body != payload {
			t.Errorf("%d, %d bytes, %v; want the whole payload through tiny slices", st, len(body), err)
		}
		if n := proxy.writes.Load() - before; n < int64(len(payload)/124) {
			t.Errorf("the upstream's %d bytes went out in %d writes: the slicing was not in force", len(payload), n)
		}
	})
	t.Run("cut off mid-body", func(t *testing.T) {
		proxy.inject(t, fault{limit: 20000})
		st, body, err, _ := get()
		if st == 200 && err == nil {
			t.Errorf("a body cut at 20000 bytes reached the client as complete (%d bytes)", len(body))
		}
	})
}
