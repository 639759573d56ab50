// Package server owns the gateway's client listeners: binding, TLS with
// certificates chosen by SNI, client certificates (mTLS), HTTP/1.1, h2 over
// TLS, h2c, header and time limits, graceful stop, and reconciling the set
// of listeners with a new config on reload without dropping connections.
package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
)

// DefaultDrainTimeout bounds how long a removed or replaced listener waits
// for its in-flight requests before their connections are closed.
const DefaultDrainTimeout = 30 * time.Second

// Server owns the gateway's client listeners. Its methods are safe for
// concurrent use; Apply and Shutdown are serialized.
type Server struct {
	handler      http.Handler
	logger       *slog.Logger
	drainTimeout time.Duration

	mu        sync.Mutex
	listeners map[string]*listener // by identity, see identity()
	shut      bool

	drainMu  sync.Mutex
	draining map[*generation]struct{}
	drained  sync.WaitGroup

	overload overload // overload.go
	counters counters // stats.go
}

// Option configures a Server.
type Option func(*Server)

// WithDrainTimeout sets how long listeners removed or replaced by Apply may
// drain (config server.drain_timeout); d <= 0 keeps DefaultDrainTimeout.
func WithDrainTimeout(d time.Duration) Option {
	return func(s *Server) {
		if d > 0 {
			s.drainTimeout = d
		}
	}
}

// New returns a Server with no listeners; Apply opens them. Every request on
// every listener goes to handler.
func New(handler http.Handler, logger *slog.Logger, opts ...Option) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		handler:      handler,
		logger:       logger,
		drainTimeout: DefaultDrainTimeout,
		listeners:    map[string]*listener{},
		draining:     map[*generation]struct{}{},
	}
	for _, o := range opts {
		o(s)
	}
	s.handler = s.guard(handler) // guard.go
	return s
}

// listener is one bound socket and the generation currently serving it.
// info and tlsConf are read by every connection and request, and swapped by
// Apply without touching the socket.
type listener struct {
	sock     *socket
	info     atomic.Pointer[Info]
	tlsConf  atomic.Pointer[tls.Config]
	static   atomic.Pointer[[]*x509.Certificate] // the static certificates' leaves
	settings settings
	gen      *generation
	h3       *h3Endpoint // HTTP/3's UDP socket, or nil (http3.go)
}

// plan is one config entry validated and loaded, ready to commit.
type plan struct {
	id, bindAddr string
	info         *Info
	tlsConf      *tls.Config
	static       []*x509.Certificate
	settings     settings
	at           string // "listeners[i]", for errors
}

// Apply reconciles the open listeners with cfgs, identified by address:
//   - a new address is bound and served;
//   - an address no longer in cfgs stops accepting at once and its
//     connections drain in the background (up to the drain timeout);
//   - an address still present keeps its socket. Certificates (re-read from
//     disk on every Apply), client CAs, TLS version, name and trusted proxies
//     change in place, for new handshakes and new requests. A change to what
//     an http.Server fixes at start (timeouts, header limit, h2/h2c, TLS on
//     or off) starts a new http.Server on the same socket and drains the old
//     one, so the port never stops accepting.
//
// Everything that can fail (files, addresses, binding) happens before any
// running listener is touched: on error the running set is left exactly as
// it was. Errors are config FieldErrs with paths from the config root
// ("listeners[1].tls.certificates[0].key"), joined with errors.Join.
func (s *Server) Apply(cfgs []config.Listener, opts ...ApplyOption) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shut {
		return errors.New("server: Apply after Shutdown")
	}
	var ao applyOptions
	for _, o := range opts {
		o(&ao)
	}

	plans, err := s.prepare(cfgs, ao)
	if err != nil {
		return err
	}

	// Bind every new address before changing anything, so a port in use
	// fails the whole Apply.
	bound := map[string]*socket{}
	var bindErrs []error
	for _, p := range plans {
		if s.listeners[p.id] != nil {
			continue
		}
		sock, err := listen(p.bindAddr, s.logger)
		if err != nil {
			bindErrs = append(bindErrs, config.FieldErr(p.at+".address", "cannot listen on %s: %v", p.info.Address, err))
			continue
		}
		bound[p.id] = sock
	}
	h3bound, h3Errs := s.bindH3(plans, bound) // http3.go
	bindErrs = append(bindErrs, h3Errs...)
	if len(bindErrs) > 0 {
		for _, sock := range bound {
			sock.close()
		}
		for _, e := range h3bound {
			e.close()
		}
		return errors.Join(bindErrs...)
	}

	// Commit: nothing below can fail.
	keep := map[string]bool{}
	for _, p := range plans {
		keep[p.id] = true
		if l := s.listeners[p.id]; l != nil {
			s.update(l, p, h3bound[p.id])
			continue
		}
		l := &listener{sock: bound[p.id], settings: p.settings}
		l.info.Store(p.info)
		if p.tlsConf != nil {
			l.tlsConf.Store(p.tlsConf)
		}
		l.static.Store(&p.static)
		l.attachH3(h3bound[p.id])
		l.gen = s.serve(l)
		s.listeners[p.id] = l
		s.logger.Info("listening", "listener", p.info.Name, "addr", l.sock.addr().String(), "tls", p.settings.tls, "h2c", p.settings.h2c, "http3", p.settings.h3.on)
	}
	for id, l := range s.listeners {
		if keep[id] {
			continue
		}
		delete(s.listeners, id)
		l.sock.close()
		l.retireH3(l.gen)
		s.drain(l.gen, s.drainTimeout)
		s.logger.Info("stopped listening; draining", "listener", l.info.Load().Name, "addr", l.sock.addr().String())
	}
	return nil
}

// ApplyOption adds to what Apply gets from the listener configs.
type ApplyOption func(*applyOptions)

type applyOptions struct {
	managed func(i int) ManagedCerts
}

// WithManagedCerts gives Apply the ACME certificates of each listener with
// tls.acme, by index in the configs (nil for the others).
func WithManagedCerts(f func(i int) ManagedCerts) ApplyOption {
	return func(o *applyOptions) { o.managed = f }
}

// prepare validates cfgs and loads every file they name, without side
// effects on running listeners.
func (s *Server) prepare(cfgs []config.Listener, ao applyOptions) ([]plan, error) {
	var errs []error
	plans := make([]plan, 0, len(cfgs))
	ids := map[string]int{}
	names := map[string]int{}
	for i, c := range cfgs {
		at := "listeners[" + strconv.Itoa(i) + "]"
		name := c.Name
		if name == "" {
			name = c.Address
		}
		if j, dup := names[name]; dup {
			errs = append(errs, config.FieldErr(at+".name", "%q is already the name of listeners[%d]; names must be unique", name, j))
		}
		names[name] = i

		st := settingsOf(c)
		p := plan{info: newInfo(name, c), settings: st, at: at}
		addr, err := resolve(c.Address)
		if err != nil {
			errs = append(errs, config.FieldErr(at+".address", "%v", err))
		} else {
			p.bindAddr = addr.String()
			p.id = identity(addr, name)
			if j, dup := ids[p.id]; dup {
				errs = append(errs, config.FieldErr(at+".address", "%s is already used by listeners[%d]", c.Address, j))
			}
			ids[p.id] = i
		}
		if c.TLS != nil {
			var managed ManagedCerts
			if ao.managed != nil && c.TLS.ACME != nil {
				managed = ao.managed(i)
			}
			conf, leaves, warnings, err := buildTLSCerts(at, c.TLS, st.h2, managed, time.Now())
			p.static = leaves
			if err != nil {
				errs = append(errs, err)
			}
			for _, w := range warnings {
				s.logger.Warn(w)
			}
			p.tlsConf = conf
		}
		plans = append(plans, p)
	}
	return plans, errors.Join(errs...)
}

// resolve checks an address and resolves its host and service names once,
// so that identity compares what will actually be bound.
func resolve(address string) (*net.TCPAddr, error) {
	if address == "" {
		return nil, errors.New("is required (host:port, e.g. \":8080\" or \"127.0.0.1:8443\")")
	}
	if _, _, err := net.SplitHostPort(address); err != nil {
		return nil, fmt.Errorf("%q is not host:port: %v", address, err)
	}
	addr, err := net.ResolveTCPAddr("tcp", address)
	if err != nil {
		return nil, fmt.Errorf("cannot resolve %q: %v", address, err)
	}
	return addr, nil
}

// identity keys a listener across reloads by the address it binds. Port 0
// (an ephemeral port, as in tests) binds a new port every time, so there the
// name tells listeners apart.
func identity(addr *net.TCPAddr, name string) string {
	if addr.Port == 0 {
		return addr.String() + "#" + name
	}
	return addr.String()
}

// update applies p to a running listener whose socket stays bound; h3 is
// the UDP socket bound for it if p turns HTTP/3 on.
func (s *Server) update(l *listener, p plan, h3 *h3Endpoint) {
	l.info.Store(p.info)
	if p.tlsConf != nil {
		l.tlsConf.Store(p.tlsConf)
	}
	l.static.Store(&p.static)
	if p.settings == l.settings {
		return
	}
	old := l.gen
	// Stop the old server taking connections before the new one starts, so
	// every connection accepted after Apply meets the new settings (an h2c
	// client must not land on a server without h2c). Meanwhile connections
	// wait in the socket's queue; none is refused.
	old.view.Close()
	l.settings = p.settings
	if retired := l.attachH3(h3); retired != nil {
		old.onDrained = retired.close
	}
	l.gen = s.serve(l)
	s.drain(old, s.drainTimeout)
	s.logger.Info("restarted listener's server with new settings; old connections draining", "listener", p.info.Name, "addr", l.sock.addr().String())
}

// serve starts a new generation on l's socket: an http.Server, or with the
// native engine (http.go) the h1s engine for HTTP/1.x connections and an
// http.Server for the h2 ones ALPN picks over TLS.
func (s *Server) serve(l *listener) *generation {
	info := l.info.Load()
	logger := s.logger.With("listener", info.Name)
	g := newGeneration(l.sock.newView(&l.info, &s.overload, &s.counters), l.settings.h2c && !l.settings.tls, logger)
	srv := newHTTPServer(l.settings, s.handler, &l.info, &s.counters, logger)
	srv.Handler = s.serveH3(l, g, g.closeWhenDraining(srv.Handler), logger) // http3.go: and Alt-Svc
	srv.ConnState = g.connState
	g.srv = srv
	native := l.settings.native()
	if native {
		g.h1 = newH1Server(l.settings, srv.Handler, &l.info, &s.counters, logger)
	}
	var ln net.Listener = trackListener{g.view, g}
	if !l.settings.tls {
		ln = framingListener{ln} // framing.go: framing is visible only in the raw bytes
	} else {
		// The handshake reads the current tls.Config, so Apply swaps
		// certificates without restarting anything.
		ln = newHandshakeListener(ln, &tls.Config{
			GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
				return l.tlsConf.Load(), nil
			},
		}, l.settings.readHeader, logger)
	}
	serveErr := func(err error) {
		// Closing the socket before Shutdown (to stop accepting at once)
		// makes Serve return net.ErrClosed: that is a stop, not a failure.
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			logger.Error("listener stopped serving", "err", err)
		}
	}
	switch {
	case !native:
		go func() {
			defer close(g.served)
			serveErr(srv.Serve(ln))
		}()
	case !l.settings.tls:
		go func() {
			defer close(g.served)
			serveErr(g.h1.Serve(ln))
		}()
	default:
		// HTTP/1.x connections (framingConn, tlsaccept.go) to h1s, h2
		// ones to the http.Server.
		h2 := newConnQueue(ln.Addr())
		go func() {
			defer close(g.served)
			done := make(chan struct{})
			go func() {
				defer close(done)
				serveErr(srv.Serve(h2))
			}()
			for {
				c, err := ln.Accept()
				if err != nil {
					h2.Close()
					serveErr(err)
					break
				}
				if fc, ok := c.(*framingConn); ok {
					go g.h1.ServeConn(fc)
				} else {
					h2.put(c)
				}
			}
			<-done
		}()
	}
	return g
}

// drain ends a generation that no longer accepts, in the background, without
// closing a connection a client may be sending a request on (see drain.go):
// HTTP/1 connections end after their next response, then Shutdown sends h2
// GOAWAY and waits for their streams. Whatever is left after timeout (0: only
// when Server.Shutdown's context ends) is closed. Hijacked connections
// (upgrades) are not waited for; their owner ends them.
func (s *Server) drain(g *generation, timeout time.Duration) {
	g.draining.Store(true)
	s.drainMu.Lock()
	s.draining[g] = struct{}{}
	s.drainMu.Unlock()
	s.drained.Add(1)
	go func() {
		defer s.drained.Done()
		start := time.Now()
		ctx, cancel := context.Background(), context.CancelFunc(func() {})
		if timeout > 0 {
			ctx, cancel = context.WithTimeout(ctx, timeout)
		}
		defer cancel()
		waitH3 := g.shutdownH3(ctx) // http3.go: GOAWAY at once
		g.waitHTTP1(ctx)
		if err := g.shutdown(ctx); err != nil {
			g.close()
		}
		waitH3()
		if g.onDrained != nil {
			g.onDrained()
		}
		// Shutdown returns nil past the deadline too when it only had idle
		// connections left to close: the context tells.
		g.logger.Info("server drained", "after", time.Since(start).Round(time.Millisecond), "timed_out", ctx.Err() != nil)
		s.drainMu.Lock()
		delete(s.draining, g)
		s.drainMu.Unlock()
	}()
}

// Addrs returns each listener's bound address by name; with port 0 in the
// config, this is where the kernel's chosen port shows up.
func (s *Server) Addrs() map[string]net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]net.Addr, len(s.listeners))
	for _, l := range s.listeners {
		m[l.info.Load().Name] = l.sock.addr()
	}
	return m
}

// Shutdown stops every listener from accepting at once, then waits for
// in-flight requests, including those of listeners removed by an earlier
// Apply, until ctx ends; then it closes the remaining connections and
// returns ctx's error. Apply fails after Shutdown.
func (s *Server) Shutdown(ctx context.Context) error {
	s.overload.close()
	s.mu.Lock()
	s.shut = true
	// The process is stopping: generations still draining from a reload
	// stop waiting for their idle HTTP/1 connections, and Shutdown them.
	s.drainMu.Lock()
	for g := range s.draining {
		g.stopWaiting()
	}
	s.drainMu.Unlock()
	for id, l := range s.listeners {
		delete(s.listeners, id)
		l.sock.close()
		l.retireH3(l.gen)
		l.gen.stopWaiting()
		// Bounded by ctx below, not by the drain timeout: the caller
		// chose how long the process may take to stop.
		s.drain(l.gen, 0)
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.drained.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.drainMu.Lock()
		for g := range s.draining {
			g.close()
		}
		s.drainMu.Unlock()
		<-done
		return ctx.Err()
	}
}

// Check validates listener configs and loads every certificate and key they
// name, without binding anything: what `wasmgate validate` can promise about
// listeners short of a port being free.
func Check(cfgs []config.Listener) error {
	s := &Server{logger: slog.New(slog.DiscardHandler)}
	_, err := s.prepare(cfgs, applyOptions{})
	return err
}

// StaticCertificate is a certificate a listener serves from files.
type StaticCertificate struct {
	Listener string
	Leaf     *x509.Certificate
}

// StaticCertificates lists the certificates the listeners serve from files
// (tls.certificates), as of the last Apply.
func (s *Server) StaticCertificates() []StaticCertificate {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []StaticCertificate
	for _, l := range s.listeners {
		if p := l.static.Load(); p != nil {
			for _, leaf := range *p {
				out = append(out, StaticCertificate{Listener: l.info.Load().Name, Leaf: leaf})
			}
		}
	}
	return out
}
