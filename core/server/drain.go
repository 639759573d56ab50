package server

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/wasmgate/wasmgate/core/server/internal/h1s"
)

// Draining an http.Server without losing a request.
//
// http.Server.Shutdown alone loses requests on a reload: it closes every idle
// HTTP/1 keep-alive connection at once, and a request it reads after it began
// is dropped unanswered. A client that had just reused such a connection for a
// POST sees EOF or a reset and cannot know whether the request was processed,
// so it must not retry it. An HTTP/1 server can end a connection safely only
// by saying so in a response ("Connection: close"), or by waiting for the
// client to close it or for the idle timeout (a close that clients already
// expect, RFC 9112 §9.6). HAProxy's soft-stop with idle-close-on-response and
// Envoy's drain manager do the same.
//
// So a generation being drained after a reload:
//  1. has stopped accepting (its caller closed its view or the socket);
//  2. answers every further request with "Connection: close": net/http then
//     closes an HTTP/1 connection after the response, and sends GOAWAY on an
//     h2 connection, whose other streams finish;
//  3. waits until none of its HTTP/1 connections is left: each ends after its
//     next response, when the client closes it, or at the idle (or, for one
//     that never sent a request, read-header) timeout;
//  4. only then calls Shutdown, which has h2 connections alone left to send
//     GOAWAY to, idle ones included, and waits for their streams.
//
// The drain timeout bounds the whole; what is left then is closed. A process
// stop (Server.Shutdown) skips step 3: the process is going away, and its
// caller bounds how long it may take.

// generation is one http.Server serving a listener's socket. A reload that
// changes what an http.Server fixes at start begins a new generation on the
// same socket and drains the old one.
type generation struct {
	srv *http.Server // HTTP/2, and HTTP/1.x unless h1 serves it
	h1  *h1s.Server  // the native engine's HTTP/1.x server, or nil
	h3  *h3Server    // HTTP/3 on the listener's UDP socket, or nil (http3.go)
	// onDrained runs once the generation has drained: it closes the
	// HTTP/3 endpoint of a listener it was the last to serve.
	onDrained func()
	view      *view // srv's handle on the socket
	h2c       bool  // plain connections may open with the h2c preface
	logger    *slog.Logger

	draining atomic.Bool
	// http1 counts accepted connections that have not ended and that are,
	// or may still turn out to be, HTTP/1: a connection counts as h2 only on
	// proof (ALPN, or the whole h2c preface), because Shutdown would close
	// an idle HTTP/1 one under a client's next request.
	http1  atomic.Int64
	ended  chan struct{} // a token whenever http1 drops to zero
	served chan struct{} // closed when srv.Serve returns: nothing more is accepted
	hurry  chan struct{} // closed by stopWaiting
	once   sync.Once
}

func newGeneration(v *view, h2c bool, logger *slog.Logger) *generation {
	return &generation{
		view:   v,
		h2c:    h2c,
		logger: logger,
		ended:  make(chan struct{}, 1),
		served: make(chan struct{}),
		hurry:  make(chan struct{}),
	}
}

// closeWhenDraining is the generation's outermost handler.
func (g *generation) closeWhenDraining(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.draining.Load() {
			w.Header()["Connection"] = closeValue
		}
		next.ServeHTTP(w, r)
	})
}

// connState is the http.Server's ConnState hook. It runs on every HTTP/1
// request, so it does no more than a type check past the first one.
func (g *generation) connState(c net.Conn, st http.ConnState) {
	switch st {
	case http.StateActive:
		// An h2 connection's first hook is Active, after the handshake, as is
		// an HTTP/1 one's first request: ALPN is settled either way.
		if tc, ok := c.(*tls.Conn); ok {
			if t := trackedOf(tc.NetConn()); t != nil && !t.alpnChecked {
				t.alpnChecked = true
				if tc.ConnectionState().NegotiatedProtocol == "h2" {
					t.becameH2()
				}
			}
		}
	case http.StateHijacked:
		// Its handler owns it now (an upgrade tunnel): neither http.Server
		// nor the drain waits for it.
		if t := trackedOf(c); t != nil {
			t.end()
		}
	}
}

// shutdown is http.Server.Shutdown for every server of the generation.
func (g *generation) shutdown(ctx context.Context) error {
	var err1 error
	if g.h1 != nil {
		err1 = g.h1.Shutdown(ctx)
	}
	err2 := g.srv.Shutdown(ctx)
	if err1 != nil {
		return err1
	}
	return err2
}

// close closes every connection of the generation.
func (g *generation) close() {
	if g.h1 != nil {
		g.h1.Close()
	}
	if g.h3 != nil {
		g.h3.Close()
	}
	g.srv.Close()
}

// stopWaiting makes the drain Shutdown at once, idle HTTP/1 connections and
// all: the process is stopping.
func (g *generation) stopWaiting() { g.once.Do(func() { close(g.hurry) }) }

// waitHTTP1 returns once srv accepts no more and none of its HTTP/1
// connections is left, or on hurry or ctx's end.
func (g *generation) waitHTTP1(ctx context.Context) {
	select {
	case <-g.served:
	case <-g.hurry:
		return
	case <-ctx.Done():
		return
	}
	for g.http1.Load() > 0 {
		select {
		case <-g.ended:
		case <-g.hurry:
			return
		case <-ctx.Done():
			return
		}
	}
}

func (g *generation) http1Ended() {
	if g.http1.Add(-1) == 0 {
		select {
		case g.ended <- struct{}{}:
		default:
		}
	}
}

// trackListener wraps each connection a generation accepts, so that the
// generation knows how many of its HTTP/1 connections are open.
type trackListener struct {
	net.Listener
	g *generation
}

func (l trackListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.g.http1.Add(1)
	t := &trackedConn{Conn: c, g: l.g, sniffed: -1}
	if l.g.h2c {
		t.sniffed = 0
	}
	return t, nil
}

const (
	maybeHTTP1 int32 = iota
	isH2
	connEnded
)

const h2cPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// trackedConn is a connection of a generation, under TLS and framingConn.
type trackedConn struct {
	net.Conn
	g    *generation
	kind atomic.Int32 // maybeHTTP1, isH2 or connEnded

	// sniffed is how many bytes of the h2c preface the first reads matched,
	// or -1 once they did not (or the listener has no h2c). Only reads touch
	// it, and net/http never reads a connection from two goroutines at once.
	sniffed int
	// alpnChecked is touched by the ConnState hook only, which net/http
	// calls from one goroutine at a time for a given connection.
	alpnChecked bool
}

func (c *trackedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.sniffed >= 0 && n > 0 {
		c.sniff(p[:n])
	}
	return n, err
}

func (c *trackedConn) sniff(p []byte) {
	rest := h2cPreface[c.sniffed:]
	k := min(len(p), len(rest))
	if string(p[:k]) != rest[:k] {
		c.sniffed = -1
		return
	}
	c.sniffed += k
	if c.sniffed == len(h2cPreface) {
		c.sniffed = -1
		c.becameH2()
	}
}

func (c *trackedConn) becameH2() {
	if c.kind.CompareAndSwap(maybeHTTP1, isH2) {
		c.g.http1Ended()
	}
}

func (c *trackedConn) end() {
	if c.kind.Swap(connEnded) == maybeHTTP1 {
		c.g.http1Ended()
	}
}

func (c *trackedConn) Close() error {
	c.end()
	return c.Conn.Close()
}

// CloseWrite lets http.Server half-close after an error response.
func (c *trackedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// NetConn returns the accepted connection, as tls.Conn's NetConn does, for
// code that looks for the TCP connection underneath.
func (c *trackedConn) NetConn() net.Conn { return c.Conn }

// trackedOf finds the trackedConn under the wrappers net/http hands to hooks.
// nil (an unknown wrapper) only makes the drain wait longer.
func trackedOf(c net.Conn) *trackedConn {
	for {
		switch x := c.(type) {
		case *trackedConn:
			return x
		case *framingConn:
			c = x.Conn
		case interface{ NetConn() net.Conn }:
			c = x.NetConn()
		default:
			return nil
		}
	}
}
