package server

import (
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/wasmgate/wasmgate/core/config"
)

// Connection admission: a listener's connection caps (in total and per
// client address), its accept rate, and the overload manager's soft
// threshold are checked once per connection, as a server takes it from the
// socket, before any byte of it is read. Counts live on the socket, so they
// span the http.Server generations a reload starts on it; the caps live in
// Info, so a reload changes them without touching the socket.
//
// A refused connection is closed at once; on a plain HTTP listener it is
// first sent a minimal 503, so that a client learns why rather than seeing
// a reset. Over TLS nothing is sent: a handshake is what the caps save.

// connLimits are a listener's admission limits; zero values are no limit.
type connLimits struct {
	max, perIP   int
	rate         rate.Limit // connections a second; 0: no limit
	burst        int        // the accept bucket's size
	plainRefusal bool       // the listener is plain HTTP: refusals get a 503
}

func limitsOf(c config.Listener) connLimits {
	return connLimits{
		max:          c.MaxConnections,
		perIP:        c.MaxConnectionsPerIP,
		rate:         rate.Limit(c.AcceptRate.PerSecond),
		burst:        max(c.AcceptRate.Burst, c.AcceptRate.PerSecond),
		plainRefusal: c.TLS == nil,
	}
}

// Why a connection was refused.
const (
	refusedMaxConnections = iota
	refusedPerIP
	refusedAcceptRate
	refusedOverload
	nRefusals
)

// refusalReasons name the reasons in the 503 a refused client gets.
var refusalReasons = [nRefusals]string{"max_connections", "max_connections_per_ip", "accept_rate", "overload"}

// admission is a socket's count of open connections and its accept bucket.
type admission struct {
	mu     sync.Mutex
	open   int
	perIP  map[netip.Addr]int // only addresses counted under a per-IP cap
	accept *rate.Limiter      // made full on the first connection under a rate
}

// admit counts c in or says why it is refused. shedding is the overload
// manager's soft state.
func (a *admission) admit(s *socket, c net.Conn, l connLimits, shedding bool) (net.Conn, int) {
	var ip netip.Addr
	if l.perIP > 0 {
		if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			ip = ta.AddrPort().Addr().Unmap()
		}
	}
	if reason := a.take(ip, l, shedding); reason >= 0 {
		return nil, reason
	}
	return &countedConn{Conn: c, s: s, ip: ip}, -1
}

// take counts a connection from ip (valid only under a per-IP cap) in, or
// says why it is refused (-1: admitted; release gives the place back).
// TCP connections come through admit, QUIC ones from http3.go.
func (a *admission) take(ip netip.Addr, l connLimits, shedding bool) int {
	if shedding {
		return refusedOverload
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if l.max > 0 && a.open >= l.max {
		return refusedMaxConnections
	}
	if ip.IsValid() && a.perIP[ip] >= l.perIP {
		return refusedPerIP
	}
	if l.rate > 0 && !a.takeAccept(l) {
		return refusedAcceptRate
	}
	a.open++
	if ip.IsValid() {
		if a.perIP == nil {
			a.perIP = map[netip.Addr]int{}
		}
		a.perIP[ip]++
	}
	return -1
}

// takeAccept takes a token from the accept bucket. The bucket lives on the
// socket and the rate in Info, so a reload retunes the bucket in place: it
// neither refills nor drains it. A refusal takes nothing. Callers hold mu.
func (a *admission) takeAccept(l connLimits) bool {
	now := time.Now()
	switch {
	case a.accept == nil:
		a.accept = rate.NewLimiter(l.rate, l.burst)
	case a.accept.Limit() != l.rate || a.accept.Burst() != l.burst:
		a.accept.SetLimitAt(now, l.rate)
		a.accept.SetBurstAt(now, l.burst)
	}
	return a.accept.AllowN(now, 1)
}

func (a *admission) release(ip netip.Addr) {
	a.mu.Lock()
	a.open--
	if ip.IsValid() {
		if n := a.perIP[ip] - 1; n > 0 {
			a.perIP[ip] = n
		} else {
			delete(a.perIP, ip)
		}
	}
	a.mu.Unlock()
}

// countedConn is an admitted connection; closing it gives back its place.
type countedConn struct {
	net.Conn
	s      *socket
	ip     netip.Addr // valid if counted under a per-IP cap
	closed atomic.Bool
}

func (c *countedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.s.adm.release(c.ip)
	}
	return c.Conn.Close()
}

// CloseWrite lets http.Server half-close after an error response.
func (c *countedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// NetConn is the connection as accepted, for socket options.
func (c *countedConn) NetConn() net.Conn { return c.Conn }

// refusals bounds the refused connections being answered at once; past
// it, under a flood, they are closed without an answer.
var refusals = make(chan struct{}, 64)

// refuseConn ends a connection that was not admitted: a 503 first on plain
// HTTP, written and followed by a short read of whatever the client sent,
// so that closing does not reset the connection before the client has read
// the answer.
func refuseConn(c net.Conn, l connLimits, reason int) {
	if !l.plainRefusal {
		c.Close()
		return
	}
	select {
	case refusals <- struct{}{}:
	default:
		c.Close()
		return
	}
	go func() {
		defer func() { <-refusals }()
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(time.Second))
		if _, err := io.WriteString(c, refusal503[reason]); err != nil {
			return
		}
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		_, _ = io.CopyN(io.Discard, c, 64<<10)
	}()
}

// refusal503 is the whole answer to a refused connection, per reason.
var refusal503 = func() (out [nRefusals]string) {
	for i, reason := range refusalReasons {
		body := `{"error":"too many connections (` + reason + `)","status":503}`
		if i == refusedOverload {
			body = `{"error":"gateway overloaded","status":503}`
		}
		out[i] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: " +
			strconv.Itoa(len(body)) + "\r\n\r\n" + body
	}
	return out
}()
