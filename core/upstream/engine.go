package upstream

import (
	"net"
	"net/http"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/upstream/internal/h1"
)

// Two engines reach HTTP/1.1 targets. native (the default for protocol
// http1) is internal/h1: the request written and the response read on the
// exchange's goroutine over a pool of connections per target, with no
// goroutine of its own per request or connection. std is net/http's
// http.Transport, which h2c and auto always use (HTTP/2 is x/net/http2's),
// kept selectable for http1 with engine: std as a fallback.

// native reports whether c's targets are reached by internal/h1.
func native(c *config.Upstream) bool {
	return (c.Protocol == "" || c.Protocol == "http1") && c.Engine != "std"
}

// newPool builds t's connection pool for the native engine.
func (u *Upstream) newPool(t *Target) *h1.Pool {
	c := u.cfg
	pc := h1.Config{
		ConnectTimeout:        c.Timeouts.Connect.D(),
		ResponseHeaderTimeout: c.Timeouts.ResponseHeader.D(),
		IdleTimeout:           c.Timeouts.Idle.D(),
		MaxIdle:               c.MaxIdlePerTarget,
		Resolver:              u.resolver,
	}
	if b := c.CircuitBreaker; b != nil {
		pc.MaxConns = b.MaxConnections
	}
	addr := t.URL.Host
	port := "80"
	if t.URL.Scheme == "https" {
		port = "443"
		pc.TLS = u.tlsConf.Clone()
		if pc.TLS.ServerName == "" {
			pc.TLS.ServerName = hostOnly(t.Host)
		}
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, port)
	}
	return h1.NewPool(addr, pc)
}

// hostOnly is the host of a host[:port] authority, without brackets.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	if len(hostport) > 1 && hostport[0] == '[' && hostport[len(hostport)-1] == ']' {
		return hostport[1 : len(hostport)-1]
	}
	return hostport
}

// roundTripper is what reaches t: its pool, or the std transport.
func (t *Target) roundTripper() http.RoundTripper {
	if t.pool != nil {
		return t.pool
	}
	return t.transport
}

// closeIdle releases t's idle connections.
func (t *Target) closeIdle() {
	if t.pool != nil {
		t.pool.CloseIdleConnections()
	} else if t.transport != nil {
		t.transport.CloseIdleConnections()
	}
}

// PoolStats is what a target's native pool holds (ok false for std).
func (t *Target) PoolStats() (open, idle int, dials uint64, ok bool) {
	if t.pool == nil {
		return 0, 0, 0, false
	}
	s := t.pool.Stats()
	return s.Open, s.Idle, s.Dials, true
}
