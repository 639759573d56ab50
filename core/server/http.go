package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/server/internal/h1s"
)

// Defaults for values a config left at zero; they match core/config's.
const (
	defaultReadHeaderTimeout    = 10 * time.Second
	defaultReadTimeout          = 60 * time.Second
	defaultWriteTimeout         = 60 * time.Second
	defaultIdleTimeout          = 120 * time.Second
	defaultMaxHeaderBytes       = 64 << 10
	defaultMaxConcurrentStreams = 250
)

// settings is everything fixed in an http.Server once it serves. It is
// comparable, so Apply can tell whether a listener needs a new server.
type settings struct {
	tls, h2, h2c                         bool
	engine                               string // "native" or "std"
	readHeader, read, write, idle        time.Duration
	maxHeaderBytes, maxConcurrentStreams int
	h3                                   h3Settings // http3.go
}

func settingsOf(c config.Listener) settings {
	or := func(d config.Duration, def time.Duration) time.Duration {
		if d > 0 {
			return d.D()
		}
		return def
	}
	s := settings{
		tls:                  c.TLS != nil,
		h2c:                  c.H2C,
		readHeader:           or(c.Timeouts.ReadHeader, defaultReadHeaderTimeout),
		read:                 or(c.Timeouts.Read, defaultReadTimeout),
		write:                or(c.Timeouts.Write, defaultWriteTimeout),
		idle:                 or(c.Timeouts.Idle, defaultIdleTimeout),
		maxHeaderBytes:       int(c.MaxHeaderBytes),
		maxConcurrentStreams: c.HTTP2.MaxConcurrentStreams,
		engine:               c.Engine,
		h3:                   h3SettingsOf(c),
	}
	if s.maxHeaderBytes <= 0 {
		s.maxHeaderBytes = defaultMaxHeaderBytes
	}
	if s.maxConcurrentStreams <= 0 {
		s.maxConcurrentStreams = defaultMaxConcurrentStreams
	}
	if s.tls {
		s.h2 = c.TLS.HTTP2 == nil || *c.TLS.HTTP2
	}
	return s
}

// newHTTPServer builds the http.Server for one generation of a listener.
//
// ReadTimeout and WriteTimeout are the initial deadlines of each request:
// core/proxy extends them through http.ResponseController as body bytes
// flow, so in effect they bound a stall, not a whole transfer, and long
// streams (SSE, large uploads) live as long as they make progress.
// ReadHeaderTimeout is absolute: it is what cuts slowloris clients.
func newHTTPServer(st settings, handler http.Handler, info *atomic.Pointer[Info], c *counters, logger *slog.Logger) *http.Server {
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetHTTP2(st.tls && st.h2)
	protos.SetUnencryptedHTTP2(st.h2c)

	// One context per server, not per connection: the Info pointer is the
	// same for every connection, and ListenerFrom loads its current value.
	base := context.WithValue(context.Background(), infoKey{}, info)
	return &http.Server{
		Handler:           guardFraming(handler, c),
		ConnContext:       c.connContext,
		ReadHeaderTimeout: st.readHeader,
		ReadTimeout:       st.read,
		WriteTimeout:      st.write,
		IdleTimeout:       st.idle,
		MaxHeaderBytes:    st.maxHeaderBytes,
		Protocols:         &protos,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: st.maxConcurrentStreams},
		ErrorLog:          newErrorLog(logger),
		BaseContext:       func(net.Listener) context.Context { return base },
	}
}

// native reports whether HTTP/1.x connections go to the h1s engine. A
// plain listener with h2c stays with net/http, which recognizes the h2c
// preface on a connection that began as HTTP/1.
func (st settings) native() bool {
	return st.engine != "std" && !(st.h2c && !st.tls)
}

// newH1Server builds the native engine's HTTP/1.x server for a generation,
// with the same timeouts, limits and context as newHTTPServer's.
func newH1Server(st settings, handler http.Handler, info *atomic.Pointer[Info], c *counters, logger *slog.Logger) *h1s.Server {
	return &h1s.Server{
		Handler:           handler,
		ReadHeaderTimeout: st.readHeader,
		ReadTimeout:       st.read,
		WriteTimeout:      st.write,
		IdleTimeout:       st.idle,
		MaxHeaderBytes:    st.maxHeaderBytes,
		BaseContext:       context.WithValue(context.Background(), infoKey{}, info),
		ConnContext:       c.connContext,
		OnHijack: func(nc net.Conn) {
			// Its handler owns it now (an upgrade tunnel): the drain
			// does not wait for it.
			if t := trackedOf(nc); t != nil {
				t.end()
			}
		},
		Logger: logger,
	}
}

// connQueue is a net.Listener of connections handed to it: the h2
// connections of a TLS listener whose HTTP/1.x ones the native engine
// serves.
type connQueue struct {
	addr   net.Addr
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newConnQueue(addr net.Addr) *connQueue {
	return &connQueue{addr: addr, conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (q *connQueue) put(c net.Conn) {
	select {
	case q.conns <- c:
	case <-q.closed:
		c.Close()
	}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.conns:
		return c, nil
	case <-q.closed:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) Close() error {
	q.once.Do(func() { close(q.closed) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return q.addr }
