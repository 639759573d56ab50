package server

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync/atomic"
)

// guard is the server's outermost handler, around guardFraming: it sheds
// requests past the overload manager's hard threshold, and counts, per
// HTTP/2 or HTTP/3 connection, the streams the client reset before their
// handler was done (rapid reset, CVE-2023-44487; QUIC's stream limit bounds
// the streams open at once, not how fast they are reset and replaced).
//
// net/http already starts at most max_concurrent_streams handlers per
// connection and skips queued streams reset before they start, and
// core/proxy sends nothing upstream for a request whose stream is gone. What
// is left is the attack's rate: a client may open and reset streams
// forever, each costing a handler start and whatever the route does before
// it notices. A connection whose streams are mostly reset is closed, as
// Envoy does past its premature-reset threshold.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.overload.refusingRequests() {
			s.overload.shedRequest(w)
			return
		}
		if r.ProtoMajor < 2 {
			next.ServeHTTP(w, r)
			return
		}
		cs, _ := r.Context().Value(connStateKey{}).(*connState)
		if cs == nil {
			next.ServeHTTP(w, r)
			return
		}
		// Deferred, so a handler that aborts (panics with
		// http.ErrAbortHandler for a client gone) is counted too.
		defer cs.streamEnded(r.Context())
		next.ServeHTTP(w, r)
	})
}

// A connection is closed once at least minResets of its streams were reset
// by the client before their handler ended, and they are more than half of
// its streams. Browsers cancel requests, but not most of them.
const minResets = 20

// connState is what the server tracks per client connection; its
// requests reach it through their context.
type connState struct {
	conn      net.Conn
	closeConn func() // how an HTTP/3 connection (no conn) is closed
	counters  *counters
	streams   atomic.Int32
	resets    atomic.Int32
	closed    atomic.Bool
}

type connStateKey struct{}

// connContext is http.Server's ConnContext: the framing check's context
// (framing.go), plus the connection's state.
func (cs *counters) connContext(ctx context.Context, c net.Conn) context.Context {
	ctx = connContext(ctx, c)
	return context.WithValue(ctx, connStateKey{}, &connState{conn: c, counters: cs})
}

func (cs *connState) streamEnded(ctx context.Context) {
	n := cs.streams.Add(1)
	if ctx.Err() == nil {
		return
	}
	k := cs.resets.Add(1)
	if k < minResets || 2*k <= n || !cs.closed.CompareAndSwap(false, true) {
		return
	}
	cs.counters.resetCloses.Add(1)
	if cs.closeConn != nil {
		cs.closeConn()
		return
	}
	c := cs.conn
	if tc, ok := c.(*tls.Conn); ok {
		// Under the TLS layer: its Close would first queue an alert
		// behind the connection's pending writes.
		c = tc.NetConn()
	}
	c.Close()
}
