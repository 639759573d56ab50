// Package h1s is the gateway's HTTP/1.x server engine: it reads requests
// from client connections into the same *http.Request net/http's server
// makes and hands handlers a ResponseWriter with the same behaviour
// (http.Flusher, http.Hijacker, and the deadlines and full duplex of
// http.ResponseController), so handlers cannot tell the two apart. What it
// does differently is cost: connection state reused across requests, the
// connection's read and write buffers given back to a pool while it waits
// for its next request, one allocation for the request and its response,
// response fields written in one pass without sorting or cloning, the
// read that notices a client leaving started only once a handler has run
// for a while (watchDelay), and deadlines set on the socket only before an
// I/O that could block.
//
// HTTP/2 (over TLS or h2c) stays with net/http: core/server gives this
// engine only the connections that speak HTTP/1.x.
package h1s

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Server serves HTTP/1.x connections. Its fields are set before the first
// Serve or ServeConn and not changed after.
type Server struct {
	Handler http.Handler

	ReadHeaderTimeout time.Duration // from the first byte of a head (and for a new connection, from its start)
	ReadTimeout       time.Duration // the whole request, head and body, from the start of its head
	WriteTimeout      time.Duration // the response, from the end of the request's head
	IdleTimeout       time.Duration // between requests
	MaxHeaderBytes    int           // a head longer than this plus 4096 bytes is refused with 431

	// BaseContext is the parent of every request's context; ConnContext,
	// if set, derives a connection's from it.
	BaseContext context.Context
	ConnContext func(context.Context, net.Conn) context.Context
	// OnHijack is told about a connection a handler took over.
	OnHijack func(net.Conn)
	Logger   *slog.Logger

	buffered atomic.Int64 // connections holding read and write buffers

	mu       sync.Mutex
	conns    map[*conn]struct{}
	shutdown atomic.Bool
	idleDone chan struct{} // a token whenever a tracked connection ends
}

// Buffered is the number of connections that hold read and write buffers:
// those reading a request or writing a response, not the idle ones
// (except over TLS, where the TLS layer buffers anyway).
func (s *Server) Buffered() int64 { return s.buffered.Load() }

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = http.ErrServerClosed

// Serve accepts connections from ln and serves each on its own goroutine
// until ln fails (a closed listener) or the server is shut down.
func (s *Server) Serve(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.shutdown.Load() {
				return ErrServerClosed
			}
			return err
		}
		go s.ServeConn(c)
	}
}

// ServeConn serves one connection and returns when it ends or is
// hijacked.
func (s *Server) ServeConn(nc net.Conn) {
	c := newConn(s, nc)
	if !s.track(c, true) {
		nc.Close()
		return
	}
	c.serve()
}

func (s *Server) track(c *conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.shutdown.Load() {
			return false
		}
		if s.conns == nil {
			s.conns = map[*conn]struct{}{}
		}
		s.conns[c] = struct{}{}
		return true
	}
	delete(s.conns, c)
	if s.idleDone != nil {
		select {
		case s.idleDone <- struct{}{}:
		default:
		}
	}
	return true
}

// Shutdown stops keeping connections alive: idle ones are closed at once
// (and again as others become idle), each busy one after its response.
// It returns when none is left, or ctx's error when ctx ends first (the
// connections left are then for the caller to Close).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown.Store(true)
	if s.idleDone == nil {
		s.idleDone = make(chan struct{}, 1)
	}
	s.mu.Unlock()
	// Connections that go idle after this see shutdown and end; poll for
	// the ones that were idle before, as net/http does.
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if s.closeIdle() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.idleDone:
		case <-t.C:
		}
	}
}

// closeIdle closes the idle connections; true if none is left at all.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if st := c.state.Load(); st == stateIdle || st == stateNew && time.Since(c.started) > 5*time.Second {
			c.nc.Close()
		}
	}
	return len(s.conns) == 0
}

// Close closes every connection at once and forgets them, as
// http.Server.Close does: a Shutdown under way returns, even while
// handlers of closed connections have yet to return.
func (s *Server) Close() error {
	s.mu.Lock()
	s.shutdown.Store(true)
	for c := range s.conns {
		c.nc.Close()
		delete(s.conns, c)
	}
	if s.idleDone != nil {
		select {
		case s.idleDone <- struct{}{}:
		default:
		}
	}
	s.mu.Unlock()
	return nil
}

func (s *Server) logf(msg string, args ...any) {
	if s.Logger != nil {
		s.Logger.Warn(msg, args...)
	}
}

// Pools of the connections' buffers. A connection holds them only while it
// reads a request or writes a response.
var (
	readerPool sync.Pool
	writerPool sync.Pool
)

const bufSize = 4 << 10 // net/http's: trailers must fit (see body.readTrailer)

func getReader(r *connReader) *bufio.Reader {
	if v := readerPool.Get(); v != nil {
		br := v.(*bufio.Reader)
		br.Reset(r)
		return br
	}
	return bufio.NewReaderSize(r, bufSize)
}

func putReader(br *bufio.Reader) {
	br.Reset(nil)
	readerPool.Put(br)
}

func getWriter(w *conn) *bufio.Writer {
	if v := writerPool.Get(); v != nil {
		bw := v.(*bufio.Writer)
		bw.Reset(connWriter{w})
		return bw
	}
	return bufio.NewWriterSize(connWriter{w}, bufSize)
}

func putWriter(bw *bufio.Writer) {
	bw.Reset(nil)
	writerPool.Put(bw)
}

var errHijacked = http.ErrHijacked

var aLongTimeAgo = time.Unix(1, 0)

// isCommonNetReadError is net/http's: a read error not worth an answer.
func isCommonNetReadError(err error) bool {
	if err == io.EOF {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "read" {
		return true
	}
	return false
}
