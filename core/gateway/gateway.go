// Package gateway assembles a runtime snapshot from config, serves requests
// on it, and swaps in a new one atomically on reload. A reload that fails
// changes nothing and says exactly why.
package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmgate/wasmgate/core/acme"
	"github.com/wasmgate/wasmgate/core/admin"
	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/proxy"
	"github.com/wasmgate/wasmgate/core/server"
	"github.com/wasmgate/wasmgate/core/upstream"
)

// Source is where the config comes from: a file (reloadable) or fixed bytes
// (the embedded demo, tests).
type Source struct {
	File  string // read on start and on every reload
	Name  string // for fixed bytes: how errors name them
	Bytes []byte // used when File is ""
	// MaxSize bounds the config file in bytes (0: config.DefaultLimits).
	MaxSize int64
	// Version is what the admin API reports as the running build.
	Version string
	// EnvPlaceholders treats unset ${NAME} as placeholders
	// (config.ParsePlaceholders); for validate only.
	EnvPlaceholders bool
}

func (src Source) load() (*config.Config, []byte, error) {
	data, name := src.Bytes, src.Name
	if src.File != "" {
		var err error
		if data, err = config.ReadFile(src.File, src.MaxSize); err != nil {
			return nil, nil, err
		}
		name = src.File
	}
	parse := config.ParseWithin
	if src.EnvPlaceholders {
		parse = config.ParsePlaceholders
	}
	cfg, err := parse(name, data, config.Limits{FileSize: src.MaxSize})
	if err != nil {
		return nil, nil, err
	}
	return cfg, data, nil
}

// Gateway is a running gateway: listeners, admin API, the current snapshot.
type Gateway struct {
	src    Source
	logger *slog.Logger
	local  *proxy.Proxy // writes responses made before a route applies
	server *server.Server
	acme   *acme.Manager // tls.acme certificates, across reloads
	admin  *admin.Server
	keep   *keeper

	current  atomic.Pointer[Snapshot]
	ready    atomic.Bool
	reloadMu sync.Mutex // one reload at a time
	gen      uint64     // guarded by reloadMu

	// onReload, if set, is told every reload's outcome (tests wait on it).
	onReload func(error)
	// onWatchCheck, if set, is called after each check the config watcher
	// makes once files settle (tests wait on it).
	onWatchCheck func()

	started     time.Time
	traffic     *traffic       // per-route history for the console (traffic.go)
	stopSampler func()         // ends the traffic sampler
	reloadsMu   sync.Mutex     // guards reloads
	reloads     []admin.Reload // newest last, at most keptReloads
}

// keptReloads is how many load attempts the admin API shows.
const keptReloads = 10

// noteReload keeps the outcome of a load attempt for the admin API.
func (g *Gateway) noteReload(generation uint64, err error) {
	r := admin.Reload{At: time.Now(), Generation: generation, OK: err == nil}
	if err != nil {
		r.Error = err.Error()
	}
	g.reloadsMu.Lock()
	defer g.reloadsMu.Unlock()
	if len(g.reloads) == keptReloads {
		g.reloads = slices.Delete(g.reloads, 0, 1)
	}
	g.reloads = append(g.reloads, r)
}

// Validate loads the config and builds a complete snapshot without serving:
// the same checks a reload makes, including every filter's own.
func Validate(src Source, logger *slog.Logger) (*config.Config, error) {
	r, err := Check(src, logger)
	if err != nil {
		return nil, err
	}
	return r.Config, nil
}

// Report is what Check found in a valid config.
type Report struct {
	Config *config.Config
	// Warnings: valid, but probably not what was meant (two cors filters
	// on one route), each placed at its line.
	Warnings config.Errors
}

// Check is Validate with the warnings of a valid config.
func Check(src Source, logger *slog.Logger) (*Report, error) {
	cfg, data, err := src.load()
	if err != nil {
		return nil, err
	}
	k := newKeeper()
	k.begin(1)
	fail := func(err error) (*Report, error) {
		k.release(1)
		return nil, err
	}
	// With placeholders (Source.EnvPlaceholders), the problems only for
	// want of their values are dropped; the snapshot may then be missing.
	s, err := buildWith(&builder{cfg: cfg, logger: logger, keep: k, dryRun: true}, data)
	if err = withoutPlaceholders(cfg, err); err != nil {
		return fail(err)
	}
	if err := server.Check(cfg.Listeners); err != nil {
		if err = withoutPlaceholders(cfg, cfg.Resolve("", err)); err != nil {
			return fail(err)
		}
	}
	if err := checkACME(cfg); err != nil {
		if err = withoutPlaceholders(cfg, cfg.Resolve("", err)); err != nil {
			return fail(err)
		}
	}
	if cfg.Admin.Address != "off" {
		if _, err := admin.NewPolicy(&cfg.Admin); err != nil {
			if err = withoutPlaceholders(cfg, cfg.Resolve("", err)); err != nil {
				return fail(err)
			}
		}
	}
	if s == nil {
		k.release(1)
		return &Report{Config: cfg}, nil
	}
	s.keep = k
	s.Generation = 1
	s.retireFrom(nil)
	return &Report{Config: cfg, Warnings: s.Warnings}, nil
}

// withoutPlaceholders is err less the problems at placeholders' values;
// nil if none is left.
func withoutPlaceholders(cfg *config.Config, err error) error {
	var es config.Errors
	if err == nil || !errors.As(err, &es) {
		return err
	}
	if es = cfg.WithoutPlaceholders(es); len(es) == 0 {
		return nil
	}
	return es
}

// Start loads the config, opens listeners and the admin API, and serves.
func Start(src Source, logger *slog.Logger) (*Gateway, error) {
	g := &Gateway{src: src, logger: logger, keep: newKeeper(), local: proxy.New(proxy.Options{}), started: time.Now()}
	g.traffic = newTraffic(g.routeNames)
	cfg, data, err := src.load()
	if err != nil {
		return nil, err
	}
	adminPolicy, err := g.adminPolicy(cfg)
	if err != nil {
		return nil, err
	}
	g.server = server.New(g, logger, server.WithDrainTimeout(cfg.Server.DrainTimeout.D()))
	g.acme = acme.New(logger)
	s, err := g.build(cfg, data, nil)
	if err != nil {
		return nil, err
	}
	certs, err := g.acme.Prepare(cfg)
	if err != nil {
		s.retireFrom(nil)
		return nil, cfg.Resolve("", err)
	}
	if err := g.server.Apply(cfg.Listeners, managedCerts(certs)); err != nil {
		certs.Abort()
		s.retireFrom(nil)
		return nil, cfg.Resolve("", err)
	}
	certs.Commit()
	g.server.SetOverload(cfg.Server.Overload)
	g.current.Store(s)
	s.configApplied(false)
	g.noteReload(s.Generation, nil)
	ctx, stop := context.WithCancel(context.Background())
	g.stopSampler = stop
	go g.traffic.run(ctx, sampleEvery)
	go newFreeHeapWatch().run(ctx, freeHeapEvery)
	if cfg.Admin.Address != "off" {
		a, err := admin.Start(cfg.Admin.Address, adminPolicy, g, logger)
		if err != nil {
			stop()
			_ = g.server.Shutdown(context.Background())
			g.acme.Stop()
			return nil, cfg.Scrub(fmt.Errorf("admin listener %s: %w", cfg.Admin.Address, err))
		}
		g.admin = a
	}
	g.releaseStartupPages("start")
	g.ready.Store(true)
	if g.admin != nil {
		logger.Info("admin API listening", "addr", g.admin.Addr().String())
	}
	logger.Info("gateway started", "config", s.Config.File, "routes", len(s.routes), "upstreams", len(s.upstreams))
	cfg.ReleaseNodes()
	returnMemory(len(data))
	return g, nil
}

func (g *Gateway) build(cfg *config.Config, data []byte, prev *Snapshot) (*Snapshot, error) {
	g.gen++
	g.keep.begin(g.gen)
	s, err := build(cfg, data, prev, g.keep, g.logger)
	if err != nil {
		g.keep.release(g.gen)
		return nil, err
	}
	s.Generation = g.gen
	s.keep = g.keep
	for _, r := range s.routes {
		r.stats = g.traffic.stats(r.Name)
	}
	for _, w := range s.Warnings {
		g.logger.Warn("config: "+w.Msg, "at", strings.TrimSuffix(w.Error(), ": "+w.Msg))
	}
	if so, ok := s.observer.(server.StatsObserver); ok {
		so.ObserveServer(g.server)
	}
	if cm, ok := meterOf(s.observer).(filter.CollectorMeter); ok {
		cm.Collect("tls.acme", g.acme)
	}
	return s, nil
}

// Reload loads the config again and swaps it in if it is valid in full:
// the snapshot builds and the listeners apply. Otherwise nothing changes.
func (g *Gateway) Reload() error { return g.reloadUnless(nil) }

// reloadUnless is Reload, skipped (nil) when serving, asked once the
// reload lock is held, says the running snapshot is already what a reload
// would load. The watcher asks: a POST /reload or SIGHUP may have loaded
// the changed file while it waited for the lock, and a second reload of
// the same file costs as much as the first (a third of a second at
// 10,000 routes).
func (g *Gateway) reloadUnless(serving func(*Snapshot) bool) error {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	if serving != nil && serving(g.current.Load()) {
		return nil
	}
	defer collectLess()()
	err := g.reload()
	g.releaseStartupPages("reload")
	g.noteReload(g.current.Load().Generation, err)
	if g.onReload != nil {
		g.onReload(err)
	}
	return err
}

func (g *Gateway) reload() (err error) {
	// A rejected config can be large (a generated file near the size
	// limit parses into hundreds of MB): give that memory back to the OS
	// now rather than keep it for a next reload that may never come.
	defer func() {
		if err != nil {
			debug.FreeOSMemory()
		}
	}()
	old := g.current.Load()
	cfg, data, err := g.src.load()
	if err != nil {
		g.logger.Error("reload rejected: config is invalid; still serving the previous config", "generation", old.Generation, "errors", err.Error())
		old.configRejected(err)
		return err
	}
	adminPolicy, err := g.adminPolicy(cfg)
	if err != nil {
		g.logger.Error("reload rejected: config is invalid; still serving the previous config", "generation", old.Generation, "errors", err.Error())
		old.configRejected(err)
		return err
	}
	s, err := g.build(cfg, data, old)
	if err != nil {
		g.logger.Error("reload rejected: config is invalid; still serving the previous config", "generation", old.Generation, "errors", err.Error())
		old.configRejected(err)
		return err
	}
	certs, err := g.acme.Prepare(cfg)
	if err == nil {
		err = g.server.Apply(cfg.Listeners, managedCerts(certs))
	}
	if err != nil {
		certs.Abort()
		err := cfg.Resolve("", err)
		g.logger.Error("reload rejected: listeners could not be applied; still serving the previous config", "err", err.Error())
		s.next.Store(old) // so closing s spares the upstreams it carried over from old
		s.retireFrom(nil)
		old.configRejected(err)
		return err
	}
	certs.Commit()
	g.server.SetOverload(cfg.Server.Overload)
	g.current.Store(s)
	if g.admin != nil && adminPolicy != nil {
		g.admin.Use(adminPolicy)
	}
	s.configApplied(true)
	old.retireFrom(s)
	g.logger.Info("config reloaded", "generation", s.Generation, "routes", len(s.routes), "upstreams", len(s.upstreams))
	cfg.ReleaseNodes()
	returnMemory(len(data))
	return nil
}

// reloadGCPercent is the GC target while a config loads. Most of what a
// load allocates (the YAML tree, decoding's scratch) is garbage by its
// end, and returnMemory collects it then; collecting it along the way at
// the default 100% was a sixth of a 10,000-route reload's CPU.
const reloadGCPercent = 400

// collectLess raises the GC target to reloadGCPercent for a load and
// returns what restores it. A target set higher (or off, by GOGC) is left
// as it is.
func collectLess() (restore func()) {
	prev := debug.SetGCPercent(reloadGCPercent)
	if prev < 0 || prev >= reloadGCPercent {
		debug.SetGCPercent(prev)
		return func() {}
	}
	return func() { debug.SetGCPercent(prev) }
}

// largeConfig is the config size (bytes of YAML) from which loading it
// leaves enough garbage to give back at once: parsing a config takes some
// 50 times its size in short-lived memory (a 10,000-route file of 1.5 MB
// peaks near 80 MB of heap), which the runtime would otherwise return to
// the OS only slowly, minutes after, or keep for the next reload.
const largeConfig = 256 << 10

// returnMemory gives the memory of a large config's loading back to the
// OS, off the reload's path: a collection, then the free pages released.
func returnMemory(size int) {
	if size >= largeConfig {
		go debug.FreeOSMemory()
	}
}

// StopReady turns readiness (/readyz) false for good, listeners still
// serving: the first step of a stop, so load balancers take the gateway
// out of rotation during server.drain_delay, before Shutdown.
func (g *Gateway) StopReady() { g.ready.Store(false) }

// Shutdown stops gracefully: readiness goes false, listeners stop accepting,
// in-flight requests finish (bounded by ctx), then everything is closed.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.ready.Store(false)
	g.stopSampler()
	err := g.server.Shutdown(ctx)
	g.acme.Stop()
	if g.admin != nil {
		err = errors.Join(err, g.admin.Close(ctx))
	}
	if s := g.current.Load(); s != nil {
		s.retireFrom(nil)
	}
	return err
}

// Addrs returns the bound client listener addresses by listener name.
func (g *Gateway) Addrs() map[string]net.Addr { return g.server.Addrs() }

// AdminAddr returns the admin listener's address, or nil when it is off.
func (g *Gateway) AdminAddr() net.Addr {
	if g.admin == nil {
		return nil
	}
	return g.admin.Addr()
}

// Current returns the snapshot being served.
func (g *Gateway) Current() *Snapshot { return g.current.Load() }

// The admin API's view of the gateway.

// Ready implements admin.Backend: false while starting or draining, and
// while an upstream that admin.readiness requires has no available target.
func (g *Gateway) Ready() bool { return g.ready.Load() && len(g.Unready()) == 0 }

// Unready names the required upstreams (admin.readiness) that have no
// available target now.
func (g *Gateway) Unready() []string {
	var out []string
	for _, u := range g.current.Load().readiness {
		if !u.HasAvailable() {
			out = append(out, u.Name)
		}
	}
	return out
}

// Status implements admin.Backend.
func (g *Gateway) Status() admin.Status {
	s := g.current.Load()
	listeners := map[string]string{}
	for name, addr := range g.server.Addrs() {
		listeners[name] = addr.String()
	}
	g.reloadsMu.Lock()
	reloads := slices.Clone(g.reloads)
	g.reloadsMu.Unlock()
	slices.Reverse(reloads)
	version := g.src.Version
	if version == "" {
		version = "dev"
	}
	sum := sha256.Sum256(s.Source)
	return admin.Status{
		Version: version, StartedAt: g.started,
		Generation: s.Generation, ConfigHash: hex.EncodeToString(sum[:]), File: s.Config.File, LoadedAt: s.LoadedAt,
		Routes: len(s.routes), Upstreams: len(s.upstreams), Listeners: listeners, Reloads: reloads,
		Certificates: g.certificates(),
	}
}

// Traffic implements admin.TrafficBackend.
func (g *Gateway) Traffic(route string) (admin.Traffic, bool) { return g.traffic.report(route) }

// routeNames are the names of the serving snapshot's routes.
func (g *Gateway) routeNames() map[string]bool {
	s := g.current.Load()
	names := make(map[string]bool, len(s.routes))
	for _, r := range s.routes {
		names[r.Name] = true
	}
	return names
}

// Pprof implements admin.ProfilingBackend: admin.pprof of the running config.
func (g *Gateway) Pprof() bool { return g.current.Load().Config.Admin.Pprof }

// ConfigYAML implements admin.Backend: the running config as written, with
// what its types (and its filters' types) declare secret hidden.
func (g *Gateway) ConfigYAML() []byte {
	return config.Redact(g.current.Load().Source, filterConfig)
}

// filterConfig is a new config of the filter registered under name, or nil.
func filterConfig(name string) any {
	if fc, ok := filter.Lookup(name); ok {
		return fc
	}
	return nil
}

// Routes implements admin.Backend.
func (g *Gateway) Routes() []admin.Route {
	s := g.current.Load()
	out := make([]admin.Route, 0, len(s.routes))
	for _, r := range s.routes {
		ar := admin.Route{
			Name: r.Name, Hosts: r.spec.Match.Hosts, Path: r.spec.Match.Path,
			Prefix: r.spec.Match.Prefix, Regex: r.spec.Match.Regex, Methods: r.spec.Match.Methods,
			Upstream: r.spec.Upstream, Respond: r.respond != nil,
		}
		ar.Filters = r.filters
		out = append(out, ar)
	}
	return out
}

// Plugins implements admin.PluginsBackend: each plugin the serving
// routes run, once, with the routes using it, sorted by name.
func (g *Gateway) Plugins() []filter.PluginStatus {
	s := g.current.Load()
	var out []filter.PluginStatus
	at := map[string]int{}
	for _, r := range s.routes {
		for _, f := range r.chain.Filters() {
			pr, ok := f.(filter.PluginReporter)
			if !ok {
				continue
			}
			st := pr.PluginStatus()
			i, seen := at[st.Name]
			if !seen {
				i = len(out)
				at[st.Name] = i
				out = append(out, st)
			}
			if !slices.Contains(out[i].Routes, r.Name) {
				out[i].Routes = append(out[i].Routes, r.Name)
			}
		}
	}
	slices.SortFunc(out, func(a, b filter.PluginStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Refusals implements admin.RefusalsBackend.
func (g *Gateway) Refusals() admin.Refusals { return g.traffic.refusals() }

var (
	_ admin.Backend         = (*Gateway)(nil)
	_ admin.TrafficBackend  = (*Gateway)(nil)
	_ admin.PluginsBackend  = (*Gateway)(nil)
	_ admin.RefusalsBackend = (*Gateway)(nil)
)

// acquire returns the current snapshot, counted as in use until release.
// The retired check after counting closes the race with a concurrent swap:
// either retireFrom sees our count, or we see it replaced and load again.
// A snapshot retired by shutdown (no successor) is still served: requests
// that slip in while draining finish on it, and the last one closes it.
func (g *Gateway) acquire() *Snapshot {
	for {
		s := g.current.Load()
		s.active.Add(1)
		if !s.retired.Load() || s.next.Load() == nil {
			return s
		}
		s.release()
	}
}

// Upstreams implements admin.Backend.
func (g *Gateway) Upstreams() []upstream.Status {
	s := g.current.Load()
	out := make([]upstream.Status, 0, len(s.upNames))
	for _, name := range s.upNames {
		out = append(out, s.upstreams[name].Status())
	}
	return out
}

// managedCerts hands the server each listener's tls.acme block.
func managedCerts(p *acme.Plan) server.ApplyOption {
	return server.WithManagedCerts(func(i int) server.ManagedCerts {
		if b := p.Listener(i); b != nil {
			return b
		}
		return nil
	})
}

// checkACME builds the tls.acme blocks (CA roots read, stores found)
// without starting them.
func checkACME(cfg *config.Config) error {
	m := acme.New(nil)
	defer m.Stop()
	p, err := m.Prepare(cfg)
	p.Abort()
	return err
}

// certificates are the managed certificates and the static ones (each
// once, however many listeners serve it), for /status.
func (g *Gateway) certificates() []acme.Certificate {
	out := g.acme.Certificates()
	seen := map[string]bool{}
	for _, sc := range g.server.StaticCertificates() {
		key := sc.Leaf.Issuer.String() + "/" + sc.Leaf.SerialNumber.String()
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, acme.Certificate{
			Names: sc.Leaf.DNSNames, Issuer: sc.Leaf.Issuer.String(),
			Serial: sc.Leaf.SerialNumber.Text(16), NotAfter: sc.Leaf.NotAfter,
		})
	}
	return out
}

// RevokeCertificate revokes the managed certificate of name and serves a
// new one (POST /certificates/revoke). A name served only from a
// certificate file is acme.ErrStatic.
func (g *Gateway) RevokeCertificate(ctx context.Context, name, reason string) (acme.Revocation, error) {
	rev, err := g.acme.Revoke(ctx, name, reason)
	if errors.Is(err, acme.ErrNotManaged) {
		host := strings.TrimSuffix(name, ".")
		for _, sc := range g.server.StaticCertificates() {
			if sc.Leaf.VerifyHostname(host) == nil {
				return rev, fmt.Errorf("%s: %w", name, acme.ErrStatic)
			}
		}
	}
	return rev, err
}
