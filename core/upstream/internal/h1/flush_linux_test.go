package h1

import (
	"bufio"
	"context"
	"errors"
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
