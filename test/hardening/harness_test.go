// Package hardening holds the gateway's hostile-input suites: request
// framing and smuggling, HTTP/2 abuse and conformance, slow and greedy
// clients, hostile upstreams, header hygiene, fuzzers over raw bytes, and
// graceful stop and reload under load.
//
// Most tests run the gateway in-process (gateway.Start on loopback, the same
// code the binary runs) so that they can count goroutines and fuzz without a
// process per input; the few that need the real process (signals, h2spec,
// slowhttptest) build it once, as test/e2e does.
package hardening

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/gateway"
	"github.com/wasmgate/wasmgate/test/internal/gatewaytest"

	// The filters the binary registers.
	_ "github.com/wasmgate/wasmgate/filters/all"
)

// vars fill a config template.
type vars = gatewaytest.Vars

func render(t testing.TB, cfg string, v vars) []byte { return gatewaytest.Render(t, cfg, v) }

func tail(s string, n int) string { return gatewaytest.Tail(s, n) }

// inproc is a gateway running in this process.
type inproc struct {
	g    *gateway.Gateway
	Addr string // the first listener, host:port
	log  *gatewaytest.Buffer
}

// startInProcess starts a gateway on cfg; its listeners should use port 0
// ("127.0.0.1:0") and name themselves, the first one "main". It is shut down
// when the test ends.
func startInProcess(t testing.TB, cfg string, v vars) *inproc {
	t.Helper()
	buf := &gatewaytest.Buffer{}
	logger := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	g, err := gateway.Start(gateway.Source{Name: "hardening.yaml", Bytes: render(t, cfg, v)}, logger)
	if err != nil {
		t.Fatalf("gateway.Start: %v", err)
	}
	ip := &inproc{g: g, log: buf}
	addr := g.Addrs()["main"]
	if addr == nil {
		t.Fatalf("no listener named main in %v", g.Addrs())
	}
	ip.Addr = addr.String()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil {
			t.Errorf("gateway shutdown: %v", err)
		}
		if t.Failed() {
			t.Logf("gateway log (tail):\n%s", tail(buf.String(), 4000))
		}
	})
	return ip
}

// recorded is one request as an upstream received it.
type recorded struct {
	Method, URI string
	Head        string // the raw request head, request line included
	Header      http.Header
	Body        []byte
	Complete    bool   // the body was read to its framed end
	Err         string // why the request did not re-parse strictly
}

// recorder is a raw-TCP upstream that re-parses every request it receives
// with net/http's strict parser, checks the raw head for what a well-framed
// request must not hold, and answers 200 "ok". A hook may replace the answer.
type recorder struct {
	ln    net.Listener
	mu    sync.Mutex
	reqs  []recorded
	conns sync.WaitGroup
	live  map[net.Conn]bool // open connections, for settle
	// busy counts requests whose first byte has been taken from the socket
	// and that are not filed yet: settle waits for it to reach zero.
	busy atomic.Int64
	// accepted holds the remote address of every connection accepted, and
	// barriers the channels settle waits on for its barrier connections.
	accepted map[string]bool
	barriers map[string]chan struct{}
	// answer, if set, writes the response to a request instead of 200 "ok".
	answer func(conn net.Conn, req *http.Request) bool // false: close the connection
}

func newRecorder(t testing.TB) *recorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{ln: ln, live: map[net.Conn]bool{}, accepted: map[string]bool{}, barriers: map[string]chan struct{}{}}
	go r.accept()
	t.Cleanup(func() { ln.Close() })
	return r
}

func (r *recorder) URL() string { return "http://" + r.ln.Addr().String() }

func (r *recorder) accept() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		if ch := r.barriers[c.RemoteAddr().String()]; ch != nil {
			close(ch)
		} else {
			r.accepted[c.RemoteAddr().String()] = true
		}
		r.live[c] = true
		r.mu.Unlock()
		r.conns.Add(1)
		go r.serve(c)
	}
}

func (r *recorder) serve(c net.Conn) {
	defer r.conns.Done()
	defer func() {
		r.mu.Lock()
		delete(r.live, c)
		r.mu.Unlock()
		c.Close()
	}()
	br := bufio.NewReader(c)
	for {
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		// Wait for the next request without taking its bytes from the
		// socket, and count it busy before reading it: at any moment a byte
		// the gateway sent is either still in the socket or part of a busy
		// request, which is what settle relies on.
		if br.Buffered() == 0 {
			if err := waitReadable(c); err != nil {
				return
			}
		}
		if !r.serveOne(c, br) {
			return
		}
	}
}

// serveOne reads, files and answers one request; false: close the connection.
func (r *recorder) serveOne(c net.Conn, br *bufio.Reader) bool {
	r.busy.Add(1)
	filed := false
	defer func() {
		if !filed {
			r.busy.Add(-1)
		}
	}()
	add := func(rec recorded) {
		r.add(rec)
		r.busy.Add(-1)
		filed = true
	}
	{
		head, err := readHead(br)
		if err != nil {
			return false
		}
		rec := recorded{Head: head}
		if why := badHead(head); why != "" {
			rec.Err = why
		}
		inner := bufio.NewReader(io.MultiReader(strings.NewReader(head), br))
		req, err := http.ReadRequest(inner)
		if err != nil {
			rec.Err = "does not re-parse: " + err.Error()
			add(rec)
			return false
		}
		rec.Method, rec.URI, rec.Header = req.Method, req.RequestURI, req.Header
		body, err := io.ReadAll(req.Body)
		rec.Body, rec.Complete = body, err == nil
		// The gateway waits for each response before sending the next
		// request, so a byte past the framed end is a framing bug.
		if err == nil && inner.Buffered() > 0 {
			rec.Err = fmt.Sprintf("%d bytes past the framed end of the request", inner.Buffered())
		}
		add(rec)
		if err != nil {
			return false
		}
		if r.answer != nil {
			return r.answer(c, req)
		}
		_, err = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		return err == nil
	}
}

// readHead reads up to and including the blank line that ends a request head.
// The head is re-parsed together with what follows, so reading it line by line
// here does not change what net/http sees.
func readHead(br *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			return "", err
		}
		if line == "\r\n" || line == "\n" {
			return b.String(), nil
		}
		if b.Len() > 1<<20 {
			return "", fmt.Errorf("head over 1MiB")
		}
	}
}

// badHead reports what a request head sent by the gateway must never hold:
// both framings, folded lines, bare CR or LF, or an HTTP/1.0 request line.
func badHead(head string) string {
	lower := strings.ToLower(head)
	switch {
	case strings.Contains(lower, "\r\ncontent-length:") && strings.Contains(lower, "\r\ntransfer-encoding:"):
		return "both Content-Length and Transfer-Encoding"
	case strings.Contains(head, "\r\n ") || strings.Contains(head, "\r\n\t"):
		return "folded header line"
	case strings.Count(head, "\r") != strings.Count(head, "\n"):
		return "bare CR or LF"
	case strings.Contains(lower, "\r\nconnection: keep-alive, ") || strings.Contains(lower, "\r\nte: gzip"):
		return "hop-by-hop header forwarded"
	}
	return ""
}

func (r *recorder) add(rec recorded) {
	r.mu.Lock()
	r.reqs = append(r.reqs, rec)
	r.mu.Unlock()
}

// settle waits until the recorder has filed every request the gateway has
// sent it so far: call it once the client's exchange is over, before take.
// A barrier connection, accepted after every connection dialled before it
// (the accept queue is FIFO), shows that the accept loop has registered them
// all; then no registered socket may hold unread bytes and no request may be
// mid-read. The sockets are checked before the busy count: a byte taken from
// a socket after it was checked belongs to a request already counted busy.
func (r *recorder) settle(t testing.TB) {
	t.Helper()
	c, err := net.DialTimeout("tcp", r.ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Close() // served like any connection: it ends at once, with nothing to file
	in, me := make(chan struct{}), c.LocalAddr().String()
	r.mu.Lock()
	if r.accepted[me] {
		close(in)
	} else {
		r.barriers[me] = in
	}
	delete(r.accepted, me)
	r.mu.Unlock()
	select {
	case <-in:
	case <-time.After(5 * time.Second):
		t.Fatal("recorder: the barrier connection was not accepted within 5s")
	}
	r.mu.Lock()
	delete(r.barriers, me)
	r.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.mu.Lock()
		pending := 0
		for lc := range r.live {
			if hasUnread(lc) {
				pending++
			}
		}
		r.mu.Unlock()
		busy := r.busy.Load()
		if pending == 0 && busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("recorder: %d connections with unread bytes and %d requests mid-read after 5s", pending, busy)
		}
		runtime.Gosched() // poll: the serving goroutines are about to read or file
	}
}

// take returns what was recorded so far and forgets it.
func (r *recorder) take() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.reqs
	r.reqs = nil
	return out
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

// exchange writes raw to a new connection to addr, half-closes it unless
// keepOpen, and reads every response until the gateway closes the connection
// or idle passes. closed reports whether the gateway closed it.
func exchange(t testing.TB, addr string, raw string, idle time.Duration) (resps []*rawResp, closed bool) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	for {
		_ = conn.SetReadDeadline(time.Now().Add(idle))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return resps, false
			}
			return resps, true // EOF or reset: closed by the gateway
		}
		body, berr := io.ReadAll(resp.Body)
		resps = append(resps, &rawResp{Status: resp.StatusCode, Header: resp.Header, Body: body, Err: berr})
		if berr != nil {
			return resps, true
		}
	}
}

type rawResp struct {
	Status int
	Header http.Header
	Body   []byte
	Err    error // reading the body failed: the response was cut short
}

// goroutines waits for the goroutine count to settle at or below base+slack
// and returns the last count; leaks show up as a count that stays high.
func goroutines(base, slack int, within time.Duration) int {
	deadline := time.Now().Add(within)
	for {
		n := runtime.NumGoroutine()
		if n <= base+slack || time.Now().After(deadline) {
			return n
		}
		time.Sleep(50 * time.Millisecond) // poll interval; the count itself is what is waited for
	}
}

// long reports whether the long versions of load tests were asked for
// (WASMGATE_HARDENING_LONG=1): a minute of reloads at 1,000 req/s and the like.
func long() bool { return os.Getenv("WASMGATE_HARDENING_LONG") == "1" }
