// Package upstream holds the backends routes forward to: targets, how one is
// picked for each request (balancers), whether it may be picked (active
// health checks, passive outlier ejection, slow start), whether the
// upstream takes requests at all (circuit breaking, retry budgets), and the
// tuned transport used to reach its targets (TLS, h2, DNS refresh).
//
// An Upstream is built once per config and carried over by reloads while
// its config is unchanged, so pools and health state survive; Close stops
// its background work (health checks, DNS refresh, ejection timers).
package upstream

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
)

// Upstream is a named group of targets with a balancer, health state, a
// circuit breaker and a transport. It is safe for concurrent use.
type Upstream struct {
	Name string

	cfg       *config.Upstream
	set       atomic.Pointer[targetSet]
	key       keyFunc
	transport *http.Transport
	tlsConf   *tls.Config  // for https targets
	retry     *RetryPolicy // the upstream's own; a route may override it
	breaker   *breaker     // nil: no limits
	clock     clock

	now         atomic.Int64 // when the latest attempt ended (unix nanos), see targetSet.nowNano
	active      atomic.Int64 // requests in flight (admitted by Begin, not yet End)
	retrying    atomic.Int64 // retries in flight
	pending     atomic.Int64 // attempts waiting for a connection
	retries     atomic.Uint64
	retriesDeny atomic.Uint64 // retries refused by the budget or breaker
	panics      atomic.Uint64 // picks made with every target out

	mu       sync.Mutex // guards state transitions and the fields below
	changed  chan struct{}
	timers   map[*Target]stopper
	closed   bool
	stop     chan struct{}
	bg       sync.WaitGroup
	lookup   func(ctx context.Context, host string) ([]string, error)
	resolver *net.Resolver // dns.resolver's, for lookups and dials; nil: the system's
	logger   *slog.Logger
	dns      dnsState
	manual   bool // tests drive checks and DNS refreshes themselves
	checkCli *http.Client
	named    map[string]*http.Transport // per TLS name, for resolved https targets
}

// options are New's options and test hooks.
type options struct {
	clock  clock
	manual bool
	lookup func(ctx context.Context, host string) ([]string, error)
	logger *slog.Logger
}

// An Option is one of New's options.
type Option func(*options)

// WithLogger is where the upstream's background work reports what changed
// on its own (DNS answers that moved or failed); by default nowhere.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// New builds an upstream from its (defaulted, validated) config and starts
// its health checks and DNS refresh, if configured. Close stops them.
func New(name string, c *config.Upstream, opts ...Option) (*Upstream, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	return build(name, c, o)
}

// Inherit copies the live state of prev's targets (health, ejections,
// latency estimates) to u's targets with the same URL, so a reload that
// changed an upstream's config does not forget which targets are down.
func (u *Upstream) Inherit(prev *Upstream) {
	if prev == nil {
		return
	}
	old := map[string]*Target{}
	for _, t := range prev.set.Load().targets {
		old[t.key] = t
	}
	for _, t := range u.set.Load().targets {
		if o := old[t.key]; o != nil {
			if u.cfg.Health.Active != nil {
				t.state.Store(o.state.Load() & stateDown)
			}
			t.ewma.Store(o.ewma.Load())
			t.stamp.Store(o.stamp.Load())
			t.passes.Store(o.passes.Load())
			t.failsActive.Store(o.failsActive.Load())
			t.ejectTotal.Store(o.ejectTotal.Load())
		}
	}
}

func build(name string, c *config.Upstream, o options) (*Upstream, error) {
	u := &Upstream{
		Name: name, cfg: c, clock: o.clock, manual: o.manual, lookup: o.lookup, logger: o.logger,
		changed: make(chan struct{}), timers: map[*Target]stopper{}, stop: make(chan struct{}),
	}
	if u.clock == nil {
		u.clock = realClock{}
	}
	if u.logger == nil {
		u.logger = slog.New(slog.DiscardHandler)
	}
	if c.DNS.Resolver != "" {
		u.resolver = dnsResolver(c.DNS.Resolver)
	}
	if u.lookup == nil {
		u.lookup = net.DefaultResolver.LookupHost
		if u.resolver != nil {
			u.lookup = lookupWith(u.resolver, c.DNS.Resolver)
		}
	}
	var targets []*Target
	for i, tc := range c.Targets {
		t, err := parseTarget(tc)
		if err != nil {
			return nil, config.FieldErr(fmt.Sprintf("targets[%d].url", i), "%v", err)
		}
		targets = append(targets, t)
	}
	if len(targets) == 0 {
		return nil, config.FieldErr("targets", "an upstream needs at least one target")
	}
	if i, _ := balancerIndex(c.Balancer); balancers[i].keyed {
		u.key = newKeyFunc(c.Hash)
	}
	tlsConf, err := tlsConfig(c.TLS)
	if err != nil {
		return nil, err
	}
	u.tlsConf = tlsConf
	u.transport = newTransport(c, tlsConf, u.resolver)
	if c.Retries != nil {
		u.retry = NewRetryPolicy(c.Retries)
	}
	if c.CircuitBreaker != nil {
		u.breaker = newBreaker(c.CircuitBreaker, u.clock)
	}
	if c.DNS.Refresh > 0 {
		targets = u.resolveAll(targets)
	}
	u.setTargets(targets)
	if a := c.Health.Active; a != nil {
		u.checkCli = &http.Client{
			Timeout:       a.Timeout.D(),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		if !u.manual {
			u.background(a.Interval.D(), u.CheckNow)
		}
	}
	if c.DNS.Refresh > 0 && !u.manual {
		u.background(c.DNS.Refresh.D(), u.RefreshDNS)
	}
	return u, nil
}

// setTargets installs a new target set with its own balancer. Targets
// that left the set lose their idle connections; their requests in flight
// finish.
func (u *Upstream) setTargets(targets []*Target) {
	for _, t := range targets {
		switch {
		case native(u.cfg):
			if t.pool == nil {
				t.pool = u.newPool(t)
			}
		case t.transport == nil:
			t.transport = u.transport
		}
	}
	if old := u.set.Load(); old != nil {
		for _, o := range old.targets {
			if !slices.Contains(targets, o) && o.pool != nil {
				o.pool.Close()
			}
		}
	}
	bounded := 0.0
	if u.cfg.Hash != nil {
		bounded = u.cfg.Hash.BoundedLoad
	}
	u.set.Store(&targetSet{
		targets:   targets,
		bal:       newBalancer(u.cfg.Balancer, targets, bounded),
		slowStart: u.cfg.SlowStart.D(),
		now:       &u.now,
	})
}

// background runs f now and then every interval until Close.
func (u *Upstream) background(interval time.Duration, f func(context.Context)) {
	u.bg.Add(1)
	go func() {
		defer u.bg.Done()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() { <-u.stop; cancel() }()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			f(ctx)
			select {
			case <-u.stop:
				return
			case <-tick.C:
			}
		}
	}()
}

func parseTarget(tc config.Target) (*Target, error) {
	u, err := url.Parse(tc.URL)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("scheme %q is not http or https", u.Scheme)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q must be scheme://host:port[/base path], nothing else", tc.URL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	w := tc.Weight
	if w <= 0 {
		w = 1
	}
	return newTarget(u, u.Host, w), nil
}

// Targets returns the current targets (a DNS refresh may change them).
func (u *Upstream) Targets() []*Target { return u.set.Load().targets }

// Pick returns the target for x, never avoid unless it is the only one
// left. Unavailable targets (failed checks, ejected) are skipped; when every
// target is out, the pick ignores health rather than fail the request
// (Envoy's panic mode): a health check that is wrong must not take a whole
// upstream down.
func (u *Upstream) Pick(x *filter.Exchange, avoid *Target) *Target {
	s := u.set.Load()
	p := pickReq{avoid: avoid, load: u.active.Load()}
	if u.key != nil && x != nil {
		p.hash, p.hasKey = u.key(x)
	}
	if t := s.bal.pick(s, p); t != nil {
		return t
	}
	if avoid != nil {
		p.avoid = nil
		if t := s.bal.pick(s, p); t != nil {
			return t
		}
	}
	u.panics.Add(1)
	p.any = true
	if t := s.bal.pick(s, p); t != nil {
		return t
	}
	return s.targets[0]
}

// Transport returns the upstream's transport, shared by its targets (DNS
// targets of https names have their own, for the TLS server name).
func (u *Upstream) Transport() http.RoundTripper { return u.transport }

// TransportFor is the transport that reaches t: its own connection pool
// (the native engine), or the std transport.
func (u *Upstream) TransportFor(t *Target) http.RoundTripper { return t.roundTripper() }

// Retry is the upstream's retry policy; nil when it has none.
func (u *Upstream) Retry() *RetryPolicy { return u.retry }

// RequestTimeout is the upstream's bound on a whole exchange (0: none).
func (u *Upstream) RequestTimeout() time.Duration { return u.cfg.Timeouts.Request.D() }

// Close stops health checks, DNS refresh and ejection timers, and releases
// idle connections; in-flight requests are not affected.
func (u *Upstream) Close() {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return
	}
	u.closed = true
	close(u.stop)
	for t, s := range u.timers {
		s.Stop()
		delete(u.timers, t)
	}
	u.mu.Unlock()
	u.bg.Wait()
	u.transport.CloseIdleConnections()
	for _, t := range u.set.Load().targets {
		switch {
		case t.pool != nil:
			t.pool.Close()
		case t.transport != u.transport:
			t.transport.CloseIdleConnections()
		}
	}
}

// Changed returns a channel closed at the next health state change of any
// target (tests and the admin API wait on it instead of sleeping).
func (u *Upstream) Changed() <-chan struct{} {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.changed
}

// notify wakes Changed waiters; u.mu must be held.
func (u *Upstream) notify() {
	close(u.changed)
	u.changed = make(chan struct{})
}

// newTransport tunes an http.Transport for proxying: a keep-alive pool sized
// for load, every timeout set, no proxy from the environment, no transparent
// decompression (bodies pass through as the upstream sent them).
// resolver, if set, resolves a target name the DNS refresh could not (yet).
func newTransport(c *config.Upstream, tlsConf *tls.Config, resolver *net.Resolver) *http.Transport {
	dialer := &net.Dialer{Timeout: c.Timeouts.Connect.D(), KeepAlive: 30 * time.Second, Resolver: resolver}
	t := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		MaxIdleConns:           0, // bounded per host below
		MaxIdleConnsPerHost:    c.MaxIdlePerTarget,
		IdleConnTimeout:        c.Timeouts.Idle.D(),
		ResponseHeaderTimeout:  c.Timeouts.ResponseHeader.D(),
		TLSHandshakeTimeout:    c.Timeouts.Connect.D(),
		ExpectContinueTimeout:  time.Second,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 64 << 10,
		WriteBufferSize:        32 << 10,
		ReadBufferSize:         32 << 10,
		TLSClientConfig:        tlsConf,
	}
	var p http.Protocols
	switch c.Protocol {
	case "h2c":
		p.SetUnencryptedHTTP2(true)
	case "auto":
		p.SetHTTP1(true)
		p.SetHTTP2(true)
	default:
		p.SetHTTP1(true)
	}
	t.Protocols = &p
	if b := c.CircuitBreaker; b != nil {
		t.MaxConnsPerHost = b.MaxConnections // 0: no cap
	}
	return t
}
