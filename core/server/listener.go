package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// socket is one bound TCP port. It outlives the http.Servers that serve it:
// one goroutine accepts and hands each connection to whichever server is
// current (through a view), so a reload that needs a new http.Server (h2c
// toggled, new timeouts) starts it on the same socket and lets the old one
// drain. The port never stops accepting, and no rebind can fail halfway.
type socket struct {
	ln     net.Listener
	conns  chan net.Conn // unbuffered: a connection waits for a server that accepts
	closed chan struct{}
	once   sync.Once
	logger *slog.Logger
	adm    admission // limits.go
}

// keepAlive probes idle client connections so dead peers (a NAT that dropped
// state, a host that vanished) free their slots within minutes rather than
// hours; HTTP-level idle timeouts do not help while a request is in flight.
var keepAlive = net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: 15 * time.Second, Count: 4}

// sendQueueBytes is how much unsent response a client connection may keep
// in the kernel (sockopt_linux.go): four of core/proxy's 32 KiB copy
// buffers, enough to keep a fast client's window full between writes.
const sendQueueBytes = 128 << 10

func listen(addr string, logger *slog.Logger) (*socket, error) {
	lc := net.ListenConfig{KeepAliveConfig: keepAlive}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &socket{ln: ln, conns: make(chan net.Conn), closed: make(chan struct{}), logger: logger}
	go s.acceptLoop()
	return s, nil
}

func (s *socket) acceptLoop() {
	var backoff time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.closed:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait and retry, as
			// http.Server does, instead of giving up the port for good.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.logger.Warn("accept failed; retrying", "addr", s.ln.Addr().String(), "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-s.closed:
				return
			}
			continue
		}
		backoff = 0
		boundSendQueue(c)
		select {
		case s.conns <- c:
		case <-s.closed:
			c.Close()
			return
		}
	}
}

// requeue hands a connection back for the next server that accepts, or
// closes it if the socket is closing.
func (s *socket) requeue(c net.Conn) {
	select {
	case s.conns <- c:
	case <-s.closed:
		c.Close()
	}
}

// close stops accepting at the kernel: the port refuses new connections at
// once, while connections already handed out are left to their server.
func (s *socket) close() {
	s.once.Do(func() {
		close(s.closed)
		s.ln.Close()
	})
}

func (s *socket) addr() net.Addr { return s.ln.Addr() }

// view is one http.Server's handle on a socket. Closing it (http.Server
// Shutdown does) only stops that server from taking new connections. It
// admits each connection under the listener's current limits (limits.go).
type view struct {
	s        *socket
	info     *atomic.Pointer[Info]
	overload *overload
	counters *counters
	closed   chan struct{}
	once     sync.Once
}

func (s *socket) newView(info *atomic.Pointer[Info], o *overload, c *counters) *view {
	return &view{s: s, info: info, overload: o, counters: c, closed: make(chan struct{})}
}

// Accept returns the next connection the listener's limits admit; the
// others are refused here, before a byte of them is read.
func (v *view) Accept() (net.Conn, error) {
	for {
		c, err := v.take()
		if err != nil {
			return nil, err
		}
		l := v.info.Load().limits
		ac, reason := v.s.adm.admit(v.s, c, l, v.overload.refusingConnections())
		if reason < 0 {
			return ac, nil
		}
		v.counters.refused[reason].Add(1)
		refuseConn(c, l, reason)
	}
}

func (v *view) take() (net.Conn, error) {
	// Check closed first so that a server being shut down does not pick up
	// a connection its successor is waiting for.
	select {
	case <-v.closed:
		return nil, net.ErrClosed
	default:
	}
	select {
	case c := <-v.s.conns:
		// Closed while the connection was on its way: it belongs to the
		// successor, which takes it from the socket's queue.
		select {
		case <-v.closed:
			go v.s.requeue(c)
			return nil, net.ErrClosed
		default:
		}
		return c, nil
	case <-v.closed:
		return nil, net.ErrClosed
	case <-v.s.closed:
		return nil, net.ErrClosed
	}
}

func (v *view) Close() error {
	v.once.Do(func() { close(v.closed) })
	return nil
}

func (v *view) Addr() net.Addr { return v.s.addr() }
