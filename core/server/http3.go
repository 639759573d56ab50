package server

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/wasmgate/wasmgate/core/config"
)

// HTTP/3 on a TLS listener: QUIC on a UDP socket bound to the TCP socket's
// port, served by quic-go's http3 with the same handler, guards, limits and
// certificates as the TCP side.
//
// The pieces follow the TCP side's split between what outlives a reload and
// what a reload may replace:
//   - an h3Endpoint is the UDP socket, its quic.Transport and listener: it
//     lives as long as the listener has http3 on, so a reload never rebinds
//     the port and never drops a QUIC connection;
//   - each generation (drain.go) has its own http3.Server, built from the
//     settings it was started with. The endpoint hands every new QUIC
//     connection to the current generation's server; a generation being
//     drained sends GOAWAY (http3.Server.Shutdown) to the connections it
//     serves, whose requests in flight finish.
//
// Connections are admitted by the listener's connection caps (limits.go)
// before their handshake, counted with the TCP ones. The rapid-reset guard
// (guard.go) watches HTTP/3 streams as it does h2 ones.

// h3Settings are a listener's HTTP/3 settings; part of settings, so a
// change starts a new generation.
type h3Settings struct {
	on                 bool
	maxStreams         int
	idle, handshake    time.Duration
	allow0RTT          bool
	recvBuf, sendBuf   int
	altSvcMaxAgeSecond int64
}

func h3SettingsOf(c config.Listener) h3Settings {
	h := c.HTTP3
	if !h.On() || c.TLS == nil {
		return h3Settings{}
	}
	or := func(d config.Duration, def time.Duration) time.Duration {
		if d > 0 {
			return d.D()
		}
		return def
	}
	st := h3Settings{
		on:                 true,
		maxStreams:         h.MaxStreams,
		idle:               or(h.IdleTimeout, 30*time.Second),
		handshake:          or(h.HandshakeTimeout, 10*time.Second),
		allow0RTT:          h.Allow0RTT,
		recvBuf:            int(h.ReceiveBuffer),
		sendBuf:            int(h.SendBuffer),
		altSvcMaxAgeSecond: int64(or(h.AltSvcMaxAge, 24*time.Hour) / time.Second),
	}
	if st.maxStreams <= 0 {
		st.maxStreams = 100
	}
	if st.recvBuf <= 0 {
		st.recvBuf = 7 << 20
	}
	if st.sendBuf <= 0 {
		st.sendBuf = 7 << 20
	}
	return st
}

// quicConfig is what QUIC connections accepted under st are given.
func (st h3Settings) quicConfig() *quic.Config {
	return &quic.Config{
		MaxIncomingStreams:   int64(st.maxStreams),
		MaxIdleTimeout:       st.idle,
		HandshakeIdleTimeout: st.handshake,
		Allow0RTT:            st.allow0RTT,
	}
}

// h3Endpoint is a listener's UDP socket and the QUIC listener on it.
type h3Endpoint struct {
	udp    *net.UDPConn
	tr     *quic.Transport
	ln     *quic.EarlyListener
	server *Server
	logger *slog.Logger

	l       atomic.Pointer[listener]     // set when the listener commits; nil refuses
	srv     atomic.Pointer[http3.Server] // the current generation's
	quic    atomic.Pointer[quic.Config]  // the current generation's
	tlsConf atomic.Pointer[h3TLS]
	closing sync.Once
	done    chan struct{} // the accept loop ended
}

// h3TLS is the listener's tls.Config (base) made fit for QUIC.
type h3TLS struct{ base, conf *tls.Config }

// errRefused makes quic-go refuse a connection before its handshake.
var errRefused = errors.New("connection refused by the listener's limits")

// bindH3 binds the UDP sockets of the plans that turn HTTP/3 on for a
// listener that has none yet, on the port its TCP socket has (bound holds
// those bound by this Apply). Errors name listeners[i].http3.
func (s *Server) bindH3(plans []plan, bound map[string]*socket) (map[string]*h3Endpoint, []error) {
	out := map[string]*h3Endpoint{}
	var errs []error
	for _, p := range plans {
		if !p.settings.h3.on {
			continue
		}
		var tcp net.Addr
		if l := s.listeners[p.id]; l != nil {
			if l.h3 != nil {
				continue
			}
			tcp = l.sock.addr()
		} else if sock := bound[p.id]; sock != nil {
			tcp = sock.addr()
		} else {
			continue // its TCP bind failed, already reported
		}
		e, err := listenH3(s, tcp.(*net.TCPAddr), p.settings.h3, s.logger.With("listener", p.info.Name))
		if err != nil {
			errs = append(errs, config.FieldErr(p.at+".http3", "cannot listen for HTTP/3 on UDP %s: %v", tcp, err))
			continue
		}
		out[p.id] = e
	}
	return out, errs
}

// quic-go logs with the standard logger when the kernel caps the UDP
// buffers; the endpoint says so itself, once, through the gateway's logger.
func init() {
	if _, set := os.LookupEnv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING"); !set {
		_ = os.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "true")
	}
}

func listenH3(s *Server, tcp *net.TCPAddr, st h3Settings, logger *slog.Logger) (*h3Endpoint, error) {
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: tcp.IP, Port: tcp.Port, Zone: tcp.Zone})
	if err != nil {
		return nil, err
	}
	e := &h3Endpoint{udp: udp, server: s, logger: logger, done: make(chan struct{})}
	e.setBuffers(st)
	e.quic.Store(st.quicConfig())
	e.tr = &quic.Transport{Conn: udp, ConnContext: e.admit}
	base := st.quicConfig()
	base.GetConfigForClient = func(*quic.ClientInfo) (*quic.Config, error) { return e.quic.Load(), nil }
	ln, err := e.tr.ListenEarly(&tls.Config{GetConfigForClient: e.tlsFor}, base)
	if err != nil {
		_ = e.tr.Close()
		_ = udp.Close()
		return nil, err
	}
	e.ln = ln
	go e.acceptLoop()
	return e, nil
}

// setBuffers sizes the socket's kernel buffers, and logs once per process
// when the kernel gives less than asked (net.core.rmem_max, wmem_max).
func (e *h3Endpoint) setBuffers(st h3Settings) {
	recv := setUDPBuffer(e.udp, st.recvBuf, false)
	send := setUDPBuffer(e.udp, st.sendBuf, true)
	if (recv > 0 && recv < st.recvBuf) || (send > 0 && send < st.sendBuf) {
		bufferWarning.Do(func() {
			e.logger.Warn("the kernel caps the HTTP/3 UDP buffers below the configured sizes; raise net.core.rmem_max and net.core.wmem_max (sysctl) for fast uploads and downloads",
				"receive_buffer", recv, "want_receive", st.recvBuf, "send_buffer", send, "want_send", st.sendBuf)
		})
	}
}

var bufferWarning sync.Once

// admit is the transport's ConnContext: the listener's connection caps,
// per-IP cap, accept rate and overload state, as for a TCP connection.
// The place is given back when the connection ends (or its handshake
// fails): quic-go ends ctx then.
func (e *h3Endpoint) admit(ctx context.Context, ci *quic.ClientInfo) (context.Context, error) {
	l := e.l.Load()
	if l == nil {
		return nil, errRefused
	}
	lim := l.info.Load().limits
	var ip netip.Addr
	if ua, ok := ci.RemoteAddr.(*net.UDPAddr); ok && lim.perIP > 0 {
		ip = ua.AddrPort().Addr().Unmap()
	}
	if reason := l.sock.adm.take(ip, lim, e.server.overload.refusingConnections()); reason >= 0 {
		e.server.counters.refused[reason].Add(1)
		return nil, errRefused
	}
	context.AfterFunc(ctx, func() { l.sock.adm.release(ip) })
	return ctx, nil
}

// tlsFor is the QUIC handshake's tls.Config: the listener's current one
// (certificates by SNI, client certificates), offering h3 over TLS 1.3. It
// is derived once per tls.Config an Apply stores.
func (e *h3Endpoint) tlsFor(*tls.ClientHelloInfo) (*tls.Config, error) {
	l := e.l.Load()
	if l == nil {
		return nil, errRefused
	}
	base := l.tlsConf.Load()
	if t := e.tlsConf.Load(); t != nil && t.base == base {
		return t.conf, nil
	}
	// Session tickets are keyed before cloning, so that every handshake
	// on this config can resume the others' sessions (golang/go#60506).
	_, _ = base.DecryptTicket(nil, tls.ConnectionState{})
	conf := base.Clone()
	conf.NextProtos = []string{http3.NextProtoH3}
	conf.MinVersion = tls.VersionTLS13
	e.tlsConf.Store(&h3TLS{base: base, conf: conf})
	return conf, nil
}

func (e *h3Endpoint) acceptLoop() {
	defer close(e.done)
	for {
		c, err := e.ln.Accept(context.Background())
		if err != nil {
			return
		}
		go e.serveConn(c)
	}
}

// serveConn hands c to the current generation's server. One that began
// shutting down between the load and the call refuses it at once; then
// its successor takes it.
func (e *h3Endpoint) serveConn(c *quic.Conn) {
	for {
		srv := e.srv.Load()
		if srv == nil {
			break
		}
		err := srv.ServeQUICConn(c)
		if !errors.Is(err, http.ErrServerClosed) || c.Context().Err() != nil || e.srv.Load() == srv {
			break
		}
	}
	_ = c.CloseWithError(quic.ApplicationErrorCode(http3.ErrCodeNoError), "")
}

// stopAccepting closes the QUIC listener: new connections are no longer
// taken, established ones live on. It waits for handshakes in flight, so
// it runs in the background.
func (e *h3Endpoint) stopAccepting() {
	go func() { _ = e.ln.Close() }()
}

// close ends every connection left and unbinds the port.
func (e *h3Endpoint) close() {
	e.closing.Do(func() {
		_ = e.ln.Close()
		_ = e.tr.Close()
		_ = e.udp.Close()
		<-e.done
	})
}

// attachH3 makes e, newly bound, the endpoint of l (nil: keep the one l
// has), after l.settings took their new value. It returns the endpoint l
// had and no longer has (http3 turned off), for the caller to close once
// the generation serving it has drained.
func (l *listener) attachH3(e *h3Endpoint) (retired *h3Endpoint) {
	if l.h3 != nil && !l.settings.h3.on {
		retired = l.h3
		retired.stopAccepting()
		l.h3 = nil
	}
	if e != nil {
		l.h3 = e
	}
	if l.h3 != nil {
		l.h3.l.Store(l)
	}
	return retired
}

// retireH3 stops l's endpoint from accepting and arranges for it to close
// once g, the last generation serving it, has drained.
func (l *listener) retireH3(g *generation) {
	if l.h3 == nil {
		return
	}
	l.h3.stopAccepting()
	g.onDrained = l.h3.close
	l.h3 = nil
}

// serveH3 gives generation g its HTTP/3 server, for l's endpoint to hand
// new connections to, and returns handler with Alt-Svc added to its
// responses (for the TCP side). Without HTTP/3 it returns handler.
func (s *Server) serveH3(l *listener, g *generation, handler http.Handler, logger *slog.Logger) http.Handler {
	if l.h3 == nil || !l.settings.h3.on {
		return handler
	}
	st := l.settings
	info := &l.info
	counters := &s.counters
	hs := &h3Server{conns: map[*quic.Conn]*atomic.Int32{}}
	next := guardFraming(s.handler, counters)
	hs.Server = &http3.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n, _ := r.Context().Value(h3InFlightKey{}).(*atomic.Int32); n != nil {
				n.Add(1)
				defer n.Add(-1)
			}
			next.ServeHTTP(w, r)
		}),
		MaxHeaderBytes: st.maxHeaderBytes,
		IdleTimeout:    st.h3.idle,
		Logger:         logger,
		ConnContext: func(ctx context.Context, c *quic.Conn) context.Context {
			ctx = context.WithValue(ctx, infoKey{}, info)
			ctx = context.WithValue(ctx, h3InFlightKey{}, hs.track(c))
			return context.WithValue(ctx, connStateKey{}, &connState{counters: counters, closeConn: func() {
				_ = c.CloseWithError(quic.ApplicationErrorCode(http3.ErrCodeExcessiveLoad), "too many streams reset")
			}})
		},
	}
	g.h3 = hs
	l.h3.setBuffers(st.h3)
	l.h3.quic.Store(st.h3.quicConfig())
	l.h3.srv.Store(hs.Server)

	port := l.h3.udp.LocalAddr().(*net.UDPAddr).Port
	altSvc := []string{`h3=":` + strconv.Itoa(port) + `"; ma=` + strconv.FormatInt(st.h3.altSvcMaxAgeSecond, 10)}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Alt-Svc"] = altSvc
		handler.ServeHTTP(w, r)
	})
}

// h3Server is a generation's http3.Server and its QUIC connections, each
// with the number of its requests in flight.
type h3Server struct {
	*http3.Server
	mu    sync.Mutex
	conns map[*quic.Conn]*atomic.Int32
}

type h3InFlightKey struct{}

// track counts c among the server's connections until it ends.
func (hs *h3Server) track(c *quic.Conn) *atomic.Int32 {
	n := new(atomic.Int32)
	hs.mu.Lock()
	hs.conns[c] = n
	hs.mu.Unlock()
	context.AfterFunc(c.Context(), func() {
		hs.mu.Lock()
		delete(hs.conns, c)
		hs.mu.Unlock()
	})
	return n
}

// goawayGrace is how long after GOAWAY a connection without a request in
// flight is left to its client before the server closes it: requests the
// client sent before it learned of GOAWAY are still on their way.
const goawayGrace = time.Second

// closeIdle closes, from goawayGrace after GOAWAY until done, every
// connection with no request in flight. A client closes such a connection
// itself on GOAWAY (RFC 9114 §5.2), but one that vanished, or that dropped
// the connection from its pool without closing it, would hold the drain
// until the idle timeout.
func (hs *h3Server) closeIdle(done <-chan struct{}) {
	timer := time.NewTimer(goawayGrace)
	defer timer.Stop()
	for {
		select {
		case <-done:
			return
		case <-timer.C:
		}
		hs.mu.Lock()
		for c, n := range hs.conns {
			if n.Load() == 0 {
				go c.CloseWithError(quic.ApplicationErrorCode(http3.ErrCodeNoError), "")
			}
		}
		hs.mu.Unlock()
		timer.Reset(100 * time.Millisecond) // poll interval while requests finish
	}
}

// shutdownH3 sends GOAWAY to the connections of g's HTTP/3 server and
// returns a function that waits until their requests are done (or ctx
// ends, then closes them).
func (g *generation) shutdownH3(ctx context.Context) (wait func()) {
	if g.h3 == nil {
		return func() {}
	}
	done := make(chan struct{})
	go g.h3.closeIdle(done)
	go func() {
		defer close(done)
		if err := g.h3.Shutdown(ctx); err != nil {
			_ = g.h3.Close()
		}
	}()
	return func() { <-done }
}
