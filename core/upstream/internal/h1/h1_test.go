package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// script is a raw TCP upstream: serve runs once per accepted connection
// with the connection's number (from 1) and a reader over it. It counts
// the sockets it accepted.
type script struct {
	ln       net.Listener
	accepted atomic.Int32
	wg       sync.WaitGroup
}

func newScript(t *testing.T, serve func(n int, c net.Conn, br *bufio.Reader)) *script {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &script{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := int(s.accepted.Add(1))
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				serve(n, c, bufio.NewReader(c))
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

// readReq reads one request and its body; nil at the end of the connection.
func readReq(br *bufio.Reader) (*http.Request, string) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, ""
	}
	b, _ := io.ReadAll(req.Body)
	return req, string(b)
}

func newPool(t *testing.T, s *script, c Config) *Pool {
	t.Helper()
	p := NewPool(s.ln.Addr().String(), c)
	t.Cleanup(p.Close)
	return p
}

func get(t *testing.T, p *Pool, method, path string, body io.Reader) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+p.addr+path, body)
	if err != nil {
		t.Fatal(err)
	}
	return p.RoundTrip(req)
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("body: %v", err)
	}
	return string(b)
}

const okResp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// serveOK answers every request on the connection with okResp.
func serveOK(_ int, c net.Conn, br *bufio.Reader) {
	for {
		if req, _ := readReq(br); req == nil {
			return
		}
		io.WriteString(c, okResp)
	}
}

func TestKeepAliveTenThousandRequestsOneSocket(t *testing.T) {
	s := newScript(t, serveOK)
	p := newPool(t, s, Config{MaxIdle: 8})
	for i := range 10000 {
		resp, err := get(t, p, "GET", "/k", nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if b := readAll(t, resp); b != "ok" {
			t.Fatalf("request %d: body %q", i, b)
		}
	}
	if n := s.accepted.Load(); n != 1 {
		t.Errorf("upstream accepted %d connections for 10,000 sequential requests, want 1", n)
	}
	if st := p.Stats(); st.Open != 1 || st.Idle != 1 {
		t.Errorf("pool %+v, want one open connection, idle", st)
	}
}

func TestKeepAliveConcurrentNoLeak(t *testing.T) {
	s := newScript(t, serveOK)
	p := newPool(t, s, Config{MaxIdle: 8})
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10000 / workers {
				req, _ := http.NewRequest("GET", "http://"+p.addr+"/", nil)
				resp, err := p.RoundTrip(req)
				if err != nil {
					errs <- err
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := s.accepted.Load(); n > workers {
		t.Errorf("upstream accepted %d connections for %d workers", n, workers)
	}
	if st := p.Stats(); st.Open != st.Idle || st.Open > workers {
		t.Errorf("pool %+v after all requests ended: every open connection should be idle", st)
	}
}

// A reused connection that the upstream closes on receiving the next
// request, before answering, is the stale keep-alive race: an idempotent
// request (or one with an idempotency key) is sent again once on a fresh
// connection, body included. A POST is not: the upstream had all of it and
// may have acted on it (RFC 9110 §9.2.2; net/http does the same), so it
// fails rather than reaching the upstream twice.
func TestStaleConnectionRetriedOnce(t *testing.T) {
	for _, tc := range []struct {
		name, method string
		streamed     bool
		key          bool
		retried      bool
	}{
		{"GET", "GET", false, false, true},
		{"PUT", "PUT", false, false, true},
		{"PUT streamed", "PUT", true, false, true},
		{"POST with idempotency key", "POST", true, true, true},
		{"POST", "POST", false, false, false},
		{"POST streamed", "POST", true, false, false},
	} {
		method := tc.method
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var seen []string // "conn:method body" per request received
			s := newScript(t, func(n int, c net.Conn, br *bufio.Reader) {
				for i := 0; ; i++ {
					req, body := readReq(br)
					if req == nil {
						return
					}
					mu.Lock()
					seen = append(seen, fmt.Sprintf("%d:%s %s", n, req.Method, body))
					mu.Unlock()
					if n == 1 && i == 1 {
						return // the second request on the first connection: close unanswered
					}
					io.WriteString(c, okResp)
				}
			})
			p := newPool(t, s, Config{})
			resp, err := get(t, p, method, "/", strings.NewReader("first"))
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, resp)
			req, _ := http.NewRequest(method, "http://"+p.addr+"/", strings.NewReader("second"))
			if tc.streamed { // no GetBody: the pool keeps a copy of a small body itself
				req.Body, req.GetBody = io.NopCloser(strings.NewReader("second")), nil
			}
			if tc.key {
				req.Header.Set("Idempotency-Key", "k1")
			}
			resp, err = p.RoundTrip(req)
			want := []string{"1:" + method + " first", "1:" + method + " second"}
			if tc.retried {
				if err != nil {
					t.Fatalf("the stale connection's request was not retried: %v", err)
				}
				if b := readAll(t, resp); b != "ok" {
					t.Errorf("body %q", b)
				}
				want = append(want, "2:"+method+" second")
			} else if err == nil {
				readAll(t, resp)
				t.Fatal("a POST the upstream received whole was sent again")
			}
			mu.Lock()
			defer mu.Unlock()
			if fmt.Sprint(seen) != fmt.Sprint(want) {
				t.Errorf("upstream saw %q, want %q", seen, want)
			}
		})
	}
}

// The retry is once: a fresh connection that fails the same way fails the
// request.
func TestStaleRetryOnlyOnce(t *testing.T) {
	var requests atomic.Int32
	s := newScript(t, func(n int, c net.Conn, br *bufio.Reader) {
		for {
			if req, _ := readReq(br); req == nil {
				return
			}
			if requests.Add(1) > 1 {
				return // every request after the first: close unanswered
			}
			io.WriteString(c, okResp)
		}
	})
	p := newPool(t, s, Config{})
	resp, err := get(t, p, "GET", "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if _, err := get(t, p, "GET", "/", nil); err == nil {
		t.Fatal("a request whose every connection closes unanswered succeeded")
	}
	if n := requests.Load(); n != 3 {
		t.Errorf("upstream saw %d requests, want 3 (first, stale, one retry)", n)
	}
	if n := s.accepted.Load(); n != 2 {
		t.Errorf("accepted %d connections, want 2", n)
	}
}

// A connection the upstream closed while it sat idle is not used for a
// request that could not be sent again (Linux peeks at the socket before a
// POST with a body): the request goes out once, on a new connection. A
// GET, for which the peek is left out on a connection idle only briefly,
// fails on it before any response byte and is sent again on a new one:
// the upstream sees it once as well.
func TestIdleConnectionClosedByPeerNotUsed(t *testing.T) {
	for _, method := range []string{"POST", "GET"} {
		t.Run(method, func(t *testing.T) {
			closed := make(chan struct{})
			var requests atomic.Int32
			s := newScript(t, func(n int, c net.Conn, br *bufio.Reader) {
				for {
					if req, _ := readReq(br); req == nil {
						return
					}
					requests.Add(1)
					io.WriteString(c, okResp)
					if n == 1 {
						c.Close()
						close(closed)
						return
					}
				}
			})
			p := newPool(t, s, Config{})
			body := func() io.Reader {
				if method == "GET" {
					return nil
				}
				return strings.NewReader("once")
			}
			resp, err := get(t, p, method, "/", body())
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, resp)
			<-closed
			waitReadable(t, p)
			resp, err = get(t, p, method, "/", body())
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, resp)
			if n := requests.Load(); n != 2 {
				t.Errorf("upstream saw %d requests, want 2", n)
			}
			if n := s.accepted.Load(); n != 2 {
				t.Errorf("upstream accepted %d connections, want 2", n)
			}
		})
	}
}

// waitReadable waits until the pool's idle connection has the peer's FIN
// (its socket is readable), so the peek has something to find.
func waitReadable(t *testing.T, p *Pool) {
	t.Helper()
	p.mu.Lock()
	c := p.idle[0]
	p.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for c.alive() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // polling the socket, not a synchronization by sleep
	}
}

func TestHalfReadBodyNeverReused(t *testing.T) {
	big := strings.Repeat("x", 100000)
	eofs := make(chan int, 4)
	s := newScript(t, func(n int, c net.Conn, br *bufio.Reader) {
		for {
			if req, _ := readReq(br); req == nil {
				eofs <- n
				return
			}
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(big), big)
		}
	})
	p := newPool(t, s, Config{})
	resp, err := get(t, p, "GET", "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := <-eofs; n != 1 {
		t.Fatalf("connection %d ended", n)
	}
	resp, err = get(t, p, "GET", "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if b := readAll(t, resp); b != big {
		t.Errorf("second response: %d bytes, want %d", len(b), len(big))
	}
	if n := s.accepted.Load(); n != 2 {
		t.Errorf("accepted %d connections, want 2 (the half-read one closed)", n)
	}
	if st := p.Stats(); st.Open != 1 {
		t.Errorf("pool %+v, want one open", st)
	}
}

func TestClosesAfterHeaders(t *testing.T) {
	s := newScript(t, func(n int, c net.Conn, br *bufio.Reader) {
		readReq(br)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
	})
	p := newPool(t, s, Config{})
	resp, err := get(t, p, "GET", "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("body error %v, want unexpected EOF", err)
	}
	if st := p.Stats(); st.Open != 0 {
		t.Errorf("pool %+v: the broken connection is still counted", st)
	}
}

// A response with no length ends when the connection does: complete, and
// the connection is not pooled.
func TestCloseDelimitedBody(t *testing.T) {
	s := newScript(t, func(n int, c net.Conn, br *bufio.Reader) {
		readReq(br)
		io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\nuntil close")
	})
	p := newPool(t, s, Config{})
	resp, err := get(t, p, "GET", "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Close || resp.ContentLength != -1 {
		t.Errorf("Close %v ContentLength %d", resp.Close, resp.ContentLength)
	}
	if b := readAll(t, resp); b != "until close" {
		t.Errorf("body %q", b)
	}
	if st := p.Stats(); st.Open != 0 {
		t.Errorf("pool %+v", st)
	}
}

func TestInformationalFloodCapped(t *testing.T) {
	s := newScript(t, func(n int, c net.Conn, br *bufio.Reader) {
		readReq(br)
		io.WriteString(c, strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n", 1000)+okResp)
	})
	p := newPool(t, s, Config{})
	_, err := get(t, p, "GET", "/", nil)
	if !errors.Is(err, errTooMany1xx) {
		t.Fatalf("err %v, want too many 1xx", err)
	}
}

func TestInformationalRelayed(t *testing.T) {
	s := newScript(t, func(n int, c net.Conn, br *bufio.Reader) {
		readReq(br)
		io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"+okResp)
	})
	p := newPool(t, s, Config{})
	var got []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		got = append(got, fmt.Sprint(code, h["Link"]))
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", "http://"+p.addr+"/", nil)
	resp, err := p.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if b := readAll(t, resp); b != "ok" {
		t.Errorf("body %q", b)
	}
	if fmt.Sprint(got) != "[100 [] 103 [</a>]]" {
		t.Errorf("1xx seen: %q", got)
	}
}

// HEAD, 204 and 304 have no body whatever their Content-Length says; the
// connection carries the next exchange.
func TestNoBodyResponses(t *testing.T) {
	answers := map[string]string{
		"/head": "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
		"/204":  "HTTP/1.1 204 No Content\r\n\r\n",
		"/304":  "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
	}
	s := newScript(t, func(n int, c net.Conn, br *bufio.Reader) {
		for {
			req, _ := readReq(br)
			if req == nil {
				return
			}
			if a, ok := answers[req.URL.Path]; ok {
				io.WriteString(c, a)
			} else {
				io.WriteString(c, okResp)
			}
		}
	})
	p := newPool(t, s, Config{})
	for _, c := range []struct{ method, path string }{{"HEAD", "/head"}, {"GET", "/204"}, {"GET", "/304"}} {
		resp, err := get(t, p, c.method, c.path, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		if b := readAll(t, resp); b != "" {
			t.Errorf("%s: body %q", c.path, b)
		}
		if c.path == "/head" && (resp.ContentLength != 5 || resp.Header.Get("Content-Length") != "5") {
			t.Errorf("HEAD: ContentLength %d, header %q; want the upstream's 5", resp.ContentLength, resp.Header.Get("Content-Length"))
		}
		resp, err = get(t, p, "GET", "/next", nil)
		if err != nil {
			t.Fatal(err)
		}
		if b := readAll(t, resp); b != "ok" {
			t.Errorf("after %s: body %q", c.path, b)
		}
	}
	if n := s.accepted.Load(); n != 1 {
		t.Errorf("accepted %d connections, want 1", n)
	}
}

// Bytes after a response (a HEAD answered with a body, a body longer than
// its Content-Length) are never read as the next response.
func TestExtraBytesNeverTheNextResponse(t *testing.T) {
	s := newScript(t, func(n int, c net.Conn, br *bufio.Reader) {
		for {
			req, _ := readReq(br)
			if req == nil {
				return
			}
			switch req.URL.Path {
			case "/head":
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 38\r\n\r\n"+"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil")
			case "/long":
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil")
			default:
				io.WriteString(c, okResp)
			}
		}
	})
	p := newPool(t, s, Config{})
	for _, c := range []struct{ method, path string }{{"HEAD", "/head"}, {"GET", "/long"}} {
		resp, err := get(t, p, c.method, c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		resp, err = get(t, p, "GET", "/next", nil)
		if err != nil {
			t.Fatal(err)
		}
		if b := readAll(t, resp); b != "ok" {
			t.Errorf("after %s the next response was %q", c.path, b)
		}
	}
}

func TestChunkedWithTrailers(t *testing.T) {
	s := newScript(t, func(n int, c net.Conn, br *bufio.Reader) {
		for {
			if req, _ := readReq(br); req == nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n"+
				"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\nX-Late: yes\r\n\r\n")
		}
	})
	p := newPool(t, s, Config{})
	for range 2 {
		resp, err := get(t, p, "GET", "/", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := resp.Trailer["X-Sum"]; !ok || resp.Header.Get("Trailer") != "" {
			t.Errorf("announced trailers %v, header Trailer %q", resp.Trailer, resp.Header.Get("Trailer"))
		}
		if b := readAll(t, resp); b != "hello world" {
			t.Errorf("body %q", b)
		}
		if resp.Trailer.Get("X-Sum") != "42" || resp.Trailer.Get("X-Late") != "yes" {
			t.Errorf("trailers %v", resp.Trailer)
		}
	}
	if n := s.accepted.Load(); n != 1 {
		t.Errorf("accepted %d connections, want 1", n)
	}
}

// Responses the RFC does not allow fail the exchange; where net/http is
// lenient and the proxy promises it, the response is served and its
// connection closed after.
func TestResponseFraming(t *testing.T) {
	cases := []struct {
		name, raw string
		body      string // "" with fail
		fail      bool   // the round trip fails
		bodyFails bool   // the body read fails
		reused    bool
	}{
		{name: "two lengths", raw: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nhello", fail: true},
		{name: "same length twice", raw: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", body: "ok", reused: true},
		{name: "length list", raw: "HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok", fail: true},
		{name: "signed length", raw: "HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok", fail: true},
		{name: "te and cl", raw: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", body: "hello"},
		{name: "te gzip", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", fail: true},
		{name: "two te", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", fail: true},
		{name: "te on 1.0", raw: "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", fail: true},
		{name: "bad chunk size", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", bodyFails: true},
		{name: "chunk size with space", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n", bodyFails: true},
		{name: "chunk overflow", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\nhello\r\n0\r\n\r\n", bodyFails: true},
		{name: "chunk data too long", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n", bodyFails: true},
		{name: "obs-fold", raw: "HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 2\r\n\r\nok", fail: true},
		{name: "bare LF", raw: "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", fail: true},
		{name: "bare LF field", raw: "HTTP/1.1 200 OK\r\nX-A: b\nContent-Length: 2\r\n\r\nok", fail: true},
		{name: "bare CR", raw: "HTTP/1.1 200 OK\r\nX-A: b\rSet-Cookie: x=1\r\nContent-Length: 2\r\n\r\nok", fail: true},
		{name: "space before colon", raw: "HTTP/1.1 200 OK\r\nContent-Length : 5\r\nContent-Length: 2\r\n\r\nok", body: "ok"},
		{name: "bad name dropped", raw: "HTTP/1.1 200 OK\r\nX A: b\r\nContent-Length: 2\r\n\r\nok", body: "ok"},
		{name: "no colon", raw: "HTTP/1.1 200 OK\r\nnonsense\r\nContent-Length: 2\r\n\r\nok", fail: true},
		{name: "http/2.0", raw: "HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok", fail: true},
		{name: "bad status", raw: "HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok", fail: true},
		{name: "no reason", raw: "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok", body: "ok", reused: true},
		{name: "1.0 keep-alive", raw: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", body: "ok"},
		{name: "connection close", raw: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", body: "ok"},
		{name: "not http", raw: "hello there\r\n\r\n", fail: true},
		{name: "huge head", raw: "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 70<<10) + "\r\nContent-Length: 2\r\n\r\nok", fail: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newScript(t, func(n int, c net.Conn, br *bufio.Reader) {
				for {
					if req, _ := readReq(br); req == nil {
						return
					}
					io.WriteString(c, tc.raw)
					if n > 1 {
						return
					}
				}
			})
			p := newPool(t, s, Config{})
			resp, err := get(t, p, "GET", "/", nil)
			if tc.fail {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("response accepted (status %d)", resp.StatusCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tc.bodyFails {
				if err == nil {
					t.Fatalf("body %q read as complete", b)
				}
				return
			}
			if err != nil || string(b) != tc.body {
				t.Fatalf("body %q, %v; want %q", b, err, tc.body)
			}
			for k := range resp.Header {
				if strings.ContainsAny(k, " \t") {
					t.Errorf("field %q kept", k)
				}
			}
			if st := p.Stats(); (st.Idle == 1) != tc.reused {
				t.Errorf("pooled: %v, want %v", st.Idle == 1, tc.reused)
			}
		})
	}
}

func TestMaxConnsWaits(t *testing.T) {
	release := make(chan struct{})
	s := newScript(t, func(n int, c net.Conn, br *bufio.Reader) {
		for {
			if req, _ := readReq(br); req == nil {
				return
			}
			<-release
			io.WriteString(c, okResp)
		}
	})
	p := newPool(t, s, Config{MaxConns: 2, MaxIdle: 2})
	var waiting atomic.Int32
	trace := &httptrace.ClientTrace{GetConn: func(string) { waiting.Add(1) }}
	ctx := httptrace.WithClientTrace(context.Background(), trace)
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+p.addr+"/", nil)
			resp, err := p.RoundTrip(req)
			if err != nil {
				errs <- err
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
	for waiting.Load() < 10 {
		time.Sleep(time.Millisecond) // until every request asked for a connection
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := s.accepted.Load(); n > 2 {
		t.Errorf("accepted %d connections with MaxConns 2", n)
	}
}

func TestCancelWhileWaitingForHeaders(t *testing.T) {
	got := make(chan struct{})
	s := newScript(t, func(n int, c net.Conn, br *bufio.Reader) {
		readReq(br)
		close(got)
		io.Copy(io.Discard, br) // never answers
	})
	p := newPool(t, s, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-got; cancel() }()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+p.addr+"/", nil)
	_, err := p.RoundTrip(req)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if st := p.Stats(); st.Open != 0 {
		t.Errorf("pool %+v after a cancelled exchange", st)
	}
}

// The context watch starts late (watchDelay): a cancel that comes after
// it is registered still ends the exchange at once.
func TestCancelAfterWatchStarted(t *testing.T) {
	got := make(chan struct{})
	s := newScript(t, func(n int, c net.Conn, br *bufio.Reader) {
		readReq(br)
		close(got)
		io.Copy(io.Discard, br) // never answers
	})
	p := newPool(t, s, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-got
		// The delay is what this test is about, not a synchronization: the
		// cancel comes after the watch was registered, on any machine
		// that runs the timer within 50 delays (else it takes the path of
		// TestCancelWhileWaitingForHeaders).
		<-time.After(50 * watchDelay)
		cancel()
	}()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+p.addr+"/", nil)
	_, err := p.RoundTrip(req)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

// A context that ended before the exchange fails it before the request is
// sent, on a reused connection too.
func TestCancelledBeforeExchange(t *testing.T) {
	var requests atomic.Int32
	s := newScript(t, func(n int, c net.Conn, br *bufio.Reader) {
		for {
			if req, _ := readReq(br); req == nil {
				return
			}
			requests.Add(1)
			io.WriteString(c, okResp)
		}
	})
	p := newPool(t, s, Config{})
	resp, err := get(t, p, "GET", "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+p.addr+"/", nil)
	if _, err := p.RoundTrip(req); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("upstream saw %d requests, want 1", n)
	}
}

func TestResponseHeaderTimeout(t *testing.T) {
	s := newScript(t, func(n int, c net.Conn, br *bufio.Reader) {
		readReq(br)
		io.Copy(io.Discard, br)
	})
	p := newPool(t, s, Config{ResponseHeaderTimeout: 50 * time.Millisecond})
	_, err := get(t, p, "GET", "/", nil)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err %v, want a timeout", err)
	}
}

// Request heads: framing from the body's length, fields a filter could
// have broken refused.
func TestRequestWriting(t *testing.T) {
	heads := make(chan string, 8)
	s := newScript(t, func(n int, c net.Conn, br *bufio.Reader) {
		for {
			req, body := readReq(br)
			if req == nil {
				return
			}
			heads <- fmt.Sprintf("%s %s cl=%d te=%v ua=%q body=%q tr=%v", req.Method, req.RequestURI, req.ContentLength, req.TransferEncoding, req.Header["User-Agent"], body, req.Trailer)
			io.WriteString(c, okResp)
		}
	})
	p := newPool(t, s, Config{})
	do := func(req *http.Request) error {
		resp, err := p.RoundTrip(req)
		if err == nil {
			readAll(t, resp)
		}
		return err
	}
	req, _ := http.NewRequest("POST", "http://"+p.addr+"/a%20b?q=1", strings.NewReader("abc"))
	req.Header.Set("User-Agent", "")
	if err := do(req); err != nil {
		t.Fatal(err)
	}
	if h := <-heads; h != `POST /a%20b?q=1 cl=3 te=[] ua=[] body="abc" tr=map[]` {
		t.Errorf("got %s", h)
	}
	req, _ = http.NewRequest("PUT", "http://"+p.addr+"/c", io.NopCloser(strings.NewReader("streamed")))
	req.ContentLength = -1
	req.Trailer = http.Header{"X-T": {"v"}}
	if err := do(req); err != nil {
		t.Fatal(err)
	}
	if h := <-heads; h != `PUT /c cl=-1 te=[chunked] ua=[] body="streamed" tr=map[X-T:[v]]` {
		t.Errorf("got %s", h)
	}
	for _, bad := range []func(*http.Request){
		func(r *http.Request) { r.Header["X-A"] = []string{"a\r\nX-Smuggled: 1"} },
		func(r *http.Request) { r.Header["X A"] = []string{"a"} },
		func(r *http.Request) { r.URL.RawQuery = "a b" },
		func(r *http.Request) { r.Host = "a\r\nb" },
	} {
		req, _ := http.NewRequest("GET", "http://"+p.addr+"/", nil)
		bad(req)
		if err := do(req); err == nil {
			t.Errorf("a request with a broken head was sent")
		}
	}
	select {
	case h := <-heads:
		t.Errorf("the upstream received %s", h)
	default:
	}
}

// A closed pool keeps nothing idle but still serves: a filter kept across
// a reload may call an upstream the reload replaced.
func TestClosedPoolServesWithoutKeeping(t *testing.T) {
	s := newScript(t, serveOK)
	p := newPool(t, s, Config{})
	resp, err := get(t, p, "GET", "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	p.Close()
	for range 2 {
		resp, err := get(t, p, "GET", "/", nil)
		if err != nil {
			t.Fatalf("request after Close: %v", err)
		}
		if b := readAll(t, resp); b != "ok" {
			t.Errorf("body %q", b)
		}
	}
	if st := p.Stats(); st.Open != 0 || st.Idle != 0 {
		t.Errorf("closed pool %+v, want nothing kept", st)
	}
	if n := s.accepted.Load(); n != 3 {
		t.Errorf("accepted %d connections, want 3 (one each after Close)", n)
	}
}
