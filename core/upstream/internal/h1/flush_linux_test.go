package h1

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A cancel while the exchange waits for the response inside the fused
// write-and-wait ends it at once, though a response header timeout (set
// before the write) is still far off: the later read must not replace the
// abort's deadline with the timeout's.
func TestCancelWhileAwaitingWithHeaderTimeout(t *testing.T) {
	got := make(chan struct{})
	s := newScript(t, func(n int, c net.Conn, br *bufio.Reader) {
		readReq(br)
		close(got)
		_, _ = br.ReadByte() // never answers
	})
	p := newPool(t, s, Config{ResponseHeaderTimeout: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-got; cancel() }()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+p.addr+"/", nil)
	done := make(chan error, 1)
	go func() {
		_, err := p.RoundTrip(req)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the cancelled exchange still waits for the response header timeout")
	}
}

// A request whose last flush the socket does not take at once (tiny
// socket buffers on both sides) is finished through the connection and
// arrives whole; the response is read as usual, and the connection is
// reused for the next request.
func TestFusedFlushShortWrite(t *testing.T) {
	bodies := make(chan string, 2)
	s := newScript(t, func(n int, c net.Conn, br *bufio.Reader) {
		for {
			req, body := readReq(br)
			if req == nil {
				return
			}
			bodies <- body
			c.Write([]byte(okResp))
		}
	})
	tiny := func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 2048)
			if serr == nil {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}
	// The upstream's receive buffer: accepted sockets inherit the
	// listener's.
	lrc, err := s.ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if err := tiny("", "", lrc); err != nil {
		t.Fatal(err)
	}
	p := newPool(t, s, Config{ResponseHeaderTimeout: 10 * time.Second})
	p.dialer.Control = tiny
	body := strings.Repeat("0123456789abcdef", (writeBufferSize-1024)/16) // one flush, below the buffer's size
	for i := range 2 {
		resp, err := get(t, p, "POST", "/", strings.NewReader(body))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if got := readAll(t, resp); got != "ok" {
			t.Fatalf("request %d: response %q", i, got)
		}
		if got := <-bodies; got != body {
			t.Fatalf("request %d: upstream got %d body bytes, want %d", i, len(got), len(body))
		}
	}
	if n := s.accepted.Load(); n != 1 {
		t.Errorf("%d connections for two requests, want 1", n)
	}
}

// An upstream that answers while the request body still arrives (an
// echo, an early 413) has response bytes in the socket before the
// request's last flush, and the poller may have reported them already:
// that flush must not wait for a readiness it would never see again, or the
// exchange waits for bytes that never come (it did, in an HTTP/3 e2e test
// echoing 8 MiB). Here the upstream answers whole after the first part of
// the body, and the client's body then waits on a socket, so that the
// poller runs (and reports the answer's bytes) before the last flush.
func TestEarlyResponseBeforeLastFlush(t *testing.T) {
	signal, wait := socketPair(t)

	s := newScript(t, func(n int, c net.Conn, br *bufio.Reader) {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		var first [1024]byte
		if _, err := io.ReadFull(req.Body, first[:]); err != nil {
			return
		}
		io.WriteString(c, okResp) // before the rest of the body arrived
		signal.Write([]byte{1})
		io.Copy(io.Discard, req.Body)
		_, _ = br.ReadByte() // and no more bytes
	})
	p := newPool(t, s, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	body := &pausingBody{data: make([]byte, 2*writeBufferSize), pauseAt: writeBufferSize, pause: wait}
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+p.addr+"/", body)
	req.ContentLength = int64(len(body.data))
	resp, err := p.RoundTrip(req)
	if err != nil {
		t.Fatalf("the response that came early was not read: %v", err)
	}
	if got := readAll(t, resp); got != "ok" {
		t.Fatalf("response %q", got)
	}
}

// pausingBody is a request body that, once pauseAt bytes were read (the
// write buffer filled and flushed), waits for a byte on pause.
type pausingBody struct {
	data    []byte
	off     int
	pauseAt int
	pause   net.Conn
	paused  bool
}

func (b *pausingBody) Read(p []byte) (int, error) {
	if b.off >= len(b.data) {
		return 0, io.EOF
	}
	if b.off >= b.pauseAt && !b.paused {
		b.paused = true
		var one [1]byte
		if _, err := b.pause.Read(one[:]); err != nil {
			return 0, err
		}
	}
	n := copy(p, b.data[b.off:])
	b.off += n
	return n, nil
}

// A peer that half-closes a connection right after a response (a
// lingering close, as Apache's on a graceful restart) sent its end of
// stream before the next request's readiness reset, and sends nothing
// more: the fused wait on the reused connection ends after awaitProbe, the
// read finds the end of stream, and the request goes again on a fresh
// connection, as it did before the fusion.
func TestHalfClosedWhileIdleRetried(t *testing.T) {
	signal, wait := socketPair(t)

	s := newScript(t, func(n int, c net.Conn, br *bufio.Reader) {
		if n > 1 {
			serveOK(n, c, br)
			return
		}
		readReq(br)
		io.WriteString(c, okResp) // no Connection: close
		c.(*net.TCPConn).CloseWrite()
		signal.Write([]byte{1})
		io.Copy(io.Discard, br) // lingers, reading, never answering
	})
	p := newPool(t, s, Config{ResponseHeaderTimeout: time.Hour})
	resp, err := get(t, p, "GET", "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	// The end of stream has arrived, and the poller has run (this read
	// parked on it) and reported it.
	var one [1]byte
	if _, err := wait.Read(one[:]); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	if len(p.idle) != 1 {
		p.mu.Unlock()
		t.Fatalf("%d idle connections, want the first one", len(p.idle))
	}
	p.idle[0].idleAt = time.Now() // reused without the liveness peek, whatever the machine's pace
	p.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+p.addr+"/", nil)
	resp, err = p.RoundTrip(req)
	if err != nil {
		t.Fatalf("request on the half-closed connection: %v", err)
	}
	if got := readAll(t, resp); got != "ok" {
		t.Fatalf("response %q", got)
	}
	if n := s.accepted.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (the half-closed one, then a fresh one)", n)
	}
}

// A response head that starts within awaitProbe on a reused connection but
// arrives whole only later is read on under the response header timeout,
// not failed by the probe's deadline.
func TestSlowHeadAfterProbe(t *testing.T) {
	s := newScript(t, func(n int, c net.Conn, br *bufio.Reader) {
		readReq(br)
		io.WriteString(c, okResp)
		readReq(br)
		io.WriteString(c, "HTTP/1.1 200 OK\r\n")
		// Well past the probe's deadline, whatever the machine's pace: it
		// was set before the request was written.
		<-time.After(5 * awaitProbe)
		io.WriteString(c, "Content-Length: 4\r\n\r\nslow")
		readReq(br)
	})
	for _, timeout := range []time.Duration{0, time.Hour} {
		p := newPool(t, s, Config{ResponseHeaderTimeout: timeout})
		for i, want := range []string{"ok", "slow"} {
			resp, err := get(t, p, "GET", "/", nil)
			if err != nil {
				t.Fatalf("header timeout %v, request %d: %v", timeout, i, err)
			}
			if got := readAll(t, resp); got != want {
				t.Fatalf("header timeout %v, request %d: %q, want %q", timeout, i, got, want)
			}
		}
	}
}

// socketPair is two ends of a loopback TCP connection: a byte written to
// signal is read from wait. A goroutine that waits on it parks in the
// poller, which then reports every socket that became ready meanwhile.
func socketPair(t *testing.T) (signal, wait net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	signal, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { signal.Close() })
	wait, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wait.Close() })
	return signal, wait
}

// A deadline set after the exchange was aborted does not replace the
// abort's, which is in the past: the read fails at once.
func TestDeadlineAfterAbortKeepsIt(t *testing.T) {
	s := newScript(t, func(n int, c net.Conn, br *bufio.Reader) {
		_, _ = br.ReadByte() // never answers
	})
	p := newPool(t, s, Config{})
	c, err := p.get(context.Background(), nil, false, true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.closeOwned()
	c.abort()
	c.setReadDeadline(time.Now().Add(time.Hour))
	done := make(chan error, 1)
	go func() {
		var b [1]byte
		_, err := c.nc.Read(b[:])
		done <- err
	}()
	select {
	case err := <-done:
		if !isTimeout(err) {
			t.Fatalf("read after the abort: %v, want a timeout", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the abort's deadline was replaced: the read waits")
	}
}

// A reused connection that sent an interim response and then closed did
// receive the request: it is not sent again on a fresh connection.
func TestNoStaleRetryAfterInterim(t *testing.T) {
	s := newScript(t, func(n int, c net.Conn, br *bufio.Reader) {
		if n > 1 {
			serveOK(n, c, br)
			return
		}
		readReq(br)
		io.WriteString(c, okResp)
		readReq(br)
		io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n")
	})
	p := newPool(t, s, Config{})
	resp, err := get(t, p, "GET", "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if resp, err := get(t, p, "GET", "/", nil); err == nil {
		readAll(t, resp)
		t.Fatal("the request that got a 103 and then a closed connection was sent again")
	}
	if n := s.accepted.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}
