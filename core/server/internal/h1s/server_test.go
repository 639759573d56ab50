package h1s

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func startNative(t *testing.T, h http.Handler) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
	go s.Serve(ln)
	t.Cleanup(func() { ln.Close(); s.Close() })
	return s, ln.Addr().String()
}

// waitFor polls cond, for conditions the server reaches on its own
// goroutines after the client has its answer; seconds bound only a failure.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestIdleConnectionsHoldNoBuffers: a keep-alive connection waiting for its
// next request has given its read and write buffers back; the next request
// on it is served as usual.
func TestIdleConnectionsHoldNoBuffers(t *testing.T) {
	s, addr := startNative(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	const n = 20
	conns := make([]net.Conn, n)
	readers := make([]*bufio.Reader, n)
	ask := func(i int) {
		if _, err := io.WriteString(conns[i], "GET / HTTP/1.1\r\nHost: a\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(readers[i], nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if string(b) != "ok" {
			t.Fatalf("body %q", b)
		}
	}
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i], readers[i] = c, bufio.NewReader(c)
		ask(i)
	}
	waitFor(t, "idle connections to release their buffers", func() bool { return s.Buffered() == 0 })
	for i := range conns {
		ask(i)
	}
	waitFor(t, "idle connections to release their buffers again", func() bool { return s.Buffered() == 0 })
}

// TestPipelinedInOrder: requests sent back to back in one write are
// answered in order, bodies and all.
func TestPipelinedInOrder(t *testing.T) {
	_, addr := startNative(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.URL.Path+":"+string(b))
	}))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"+
		"POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"+
		"POST /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n"+
		"GET /4 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	br := bufio.NewReader(c)
	var got []string
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		b, _ := io.ReadAll(resp.Body)
		got = append(got, string(b))
	}
	if strings.Join(got, " ") != "/1: /2:abc /3:xy /4:" {
		t.Fatalf("responses %q", got)
	}
}

// TestExpectContinue: 100 Continue is sent when the handler reads the body,
// and not when it answers without reading it (the connection then closes).
func TestExpectContinue(t *testing.T) {
	_, addr := startNative(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/read" {
			b, _ := io.ReadAll(r.Body)
			io.WriteString(w, string(b))
			return
		}
		w.WriteHeader(http.StatusForbidden)
	}))
	for _, path := range []string{"/read", "/refuse"} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "POST "+path+" HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if path == "/refuse" {
			if resp.StatusCode != http.StatusForbidden || !resp.Close {
				t.Fatalf("refuse: %d close=%v", resp.StatusCode, resp.Close)
			}
			c.Close()
			continue
		}
		if resp.StatusCode != http.StatusContinue {
			t.Fatalf("read: first response %d, want 100", resp.StatusCode)
		}
		io.WriteString(c, "hello")
		resp, err = http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != "hello" {
			t.Fatalf("read: %d %q", resp.StatusCode, b)
		}
		c.Close()
	}
}

// TestHijack: a handler takes the connection over, with bytes the client
// sent after the head still readable through the returned buffer.
func TestHijack(t *testing.T) {
	_, addr := startNative(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		brw.Flush()
		line, _ := brw.ReadString('\n')
		io.WriteString(conn, "echo:"+line)
	}))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nearly\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("%v %v", resp, err)
	}
	line, _ := br.ReadString('\n')
	if line != "echo:early\n" {
		t.Fatalf("tunnel: %q", line)
	}
}

// TestShutdownLetsInFlightFinish: Shutdown closes idle connections at once
// and waits for a request in progress, whose response is complete.
func TestShutdownLetsInFlightFinish(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	s, addr := startNative(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
		}
		io.WriteString(w, "done")
	}))
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	io.WriteString(idle, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReader(idle), nil); err != nil || resp.StatusCode != 200 {
		t.Fatal(resp, err)
	}
	busy, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	<-entered
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("idle connection: %v, want EOF", err)
	}
	close(release)
	busy.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "done" || !resp.Close {
		t.Fatalf("in-flight response %q close=%v", b, resp.Close)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
