package gateway

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmgate/wasmgate/core/aggregate"
	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/portal"
	"github.com/wasmgate/wasmgate/core/proxy"
	"github.com/wasmgate/wasmgate/core/router"
	"github.com/wasmgate/wasmgate/core/upstream"
)

// Snapshot is one complete, immutable runtime built from one config: the
// route table, compiled chains and upstreams. Requests read the current
// snapshot with one atomic load and finish on the snapshot they started with.
type Snapshot struct {
	Config      *config.Config
	Source      []byte            // the config file as written, for the admin API
	filesDigest [sha256.Size]byte // of the files the config names when built, to notice changes
	Generation  uint64
	LoadedAt    time.Time

	table     *router.Table[*Route]
	routes    []*Route
	upstreams map[string]*upstream.Upstream
	upNames   []string             // sorted, for the admin API and observers
	readiness []*upstream.Upstream // admin.readiness.require_healthy_upstreams

	mergeSlashes      bool
	underscoreHeaders string
	lowercaseMethods  bool
	hygiene           responseHygiene // handler.go: server_header, hide_response_headers
	maxRequestBody    int64
	ioTimeouts        config.ServerTimeouts // the longest read/write of any listener
	observer          filter.Observer       // nil when nothing is observed (observe.go)
	requestID         *requestID            // nil when off
	versions          *versionReader        // nil without versioning (versioning.go)
	portal            *portal.Portal        // nil when portal: is off (portal.go)

	// shared are the filters built from Shareable configs, by what built
	// them, for routes and the next snapshot to reuse (shared.go).
	shared map[shareKey]sharedFilter

	// Warnings are what validate shows about a valid config that is
	// probably not what its author meant (two cors filters on one route).
	Warnings config.Errors

	// Lifecycle: see lifecycle.go.
	keep    *keeper
	active  atomic.Int64
	retired atomic.Bool
	next    atomic.Pointer[Snapshot]
	closed  sync.Once
}

// Route is a compiled route: everything the hot path needs, resolved.
type Route struct {
	Name     string
	chain    *filter.Chain
	upstream *upstream.Upstream
	respond  *localResponse  // a respond: or redirect: target (respond.go)
	fanout   *aggregate.Plan // an aggregate target (aggregate.go)
	split    *split          // a split target: upstream is then nil (split.go)
	mirror   *mirror         // copies of requests to a shadow upstream (mirror.go)
	rewrite  *router.Rewriter
	proxy    *proxy.Proxy
	maxBody  int64
	spec     *config.Route
	index    int         // in Config.Routes, for observers' per-route state
	filters  []string    // the chain's filter names, to say which one rejected
	stats    *routeStats // the console's counters (traffic.go); nil in Validate
	// deprecation: the route's Deprecation/Sunset headers and retirement
	// (versioning.go); nil when it has none.
	deprecation *deprecation
}

// builder accumulates positioned errors while a snapshot is built, so one
// validation run reports every problem, not only the first.
type builder struct {
	cfg    *config.Config
	logger *slog.Logger
	keep   *keeper
	prev   *Snapshot
	errs   config.Errors
	snap   *Snapshot    // the snapshot being built, its upstreams first
	dryRun bool         // only checking (Validate): filters leave no trace
	meter  filter.Meter // the observer's, for the filters' metrics; nil when off
	// shareableKinds caches which filter kinds are filter.Shareable.
	shareableKinds map[string]bool
	// chains and proxies are shared by the routes of the snapshot being
	// built (shared.go).
	chains  map[string]*filter.Chain
	proxies map[proxy.Options]*proxy.Proxy
	// warnings are valid but doubtful configurations (doubled filters),
	// shown by validate and logged by serve.
	warnings config.Errors
}

func (b *builder) fail(field string, err error) {
	b.errs = append(b.errs, config.Resolve(b.cfg.File, b.cfg.Root, field, err)...)
}

// build compiles cfg into a snapshot. prev, if any, lends upstreams whose
// config did not change, so their connection pools survive a reload.
func build(cfg *config.Config, source []byte, prev *Snapshot, keep *keeper, logger *slog.Logger) (*Snapshot, error) {
	return buildWith(&builder{cfg: cfg, logger: logger, keep: keep, prev: prev}, source)
}

// buildWith compiles b.cfg into a snapshot.
func buildWith(b *builder, source []byte) (*Snapshot, error) {
	cfg := b.cfg
	s := &Snapshot{
		Config:            cfg,
		Source:            source,
		LoadedAt:          time.Now(),
		filesDigest:       filesDigest(cfg),
		upstreams:         map[string]*upstream.Upstream{},
		mergeSlashes:      cfg.Server.MergeSlashes == nil || *cfg.Server.MergeSlashes,
		underscoreHeaders: cfg.Server.UnderscoreHeaders,
		lowercaseMethods:  cfg.Server.AllowLowercaseMethods,
		maxRequestBody:    int64(cfg.Server.MaxRequestBody),
		requestID:         newRequestID(cfg.Observability.RequestID),
		hygiene:           newResponseHygiene(cfg.Server),
	}
	s.observer = b.observer()
	b.meter = meterOf(s.observer)
	// The proxy extends client deadlines as bytes move. Routes are shared by
	// all listeners, so they use the most generous listener's timeouts.
	for _, l := range cfg.Listeners {
		s.ioTimeouts.Read = max(s.ioTimeouts.Read, l.Timeouts.Read)
		s.ioTimeouts.Write = max(s.ioTimeouts.Write, l.Timeouts.Write)
	}
	names := make([]string, 0, len(cfg.Upstreams))
	for name := range cfg.Upstreams {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if u := b.upstream(name, cfg.Upstreams[name]); u != nil {
			s.upstreams[name] = u
			s.upNames = append(s.upNames, name)
		}
	}
	for _, name := range cfg.Admin.Readiness.RequireHealthyUpstreams {
		if u := s.upstreams[name]; u != nil {
			s.readiness = append(s.readiness, u)
		}
	}
	if uo, ok := s.observer.(upstream.StatusObserver); ok {
		uo.ObserveUpstreams(s)
	}
	b.snap = s

	s.versions = newVersionReader(cfg)
	entries := make([]router.Entry[*Route], 0, len(cfg.Routes))
	for i := range cfg.Routes {
		rc := &cfg.Routes[i]
		if r := b.route(i, rc, s); r != nil {
			s.routes = append(s.routes, r)
			entries = append(entries, router.Entry[*Route]{Match: rc.Match, Value: r, Version: rc.Version})
		}
	}
	s.portal = b.portal(s)
	if len(b.errs) == 0 {
		table, err := router.Compile(entries)
		if err != nil {
			b.fail("", err)
		}
		s.table = table
	}
	if len(b.errs) > 0 {
		for name, u := range s.upstreams { // stop the health checks of those built here
			if b.prev == nil || b.prev.upstreams[name] != u {
				u.Close()
			}
		}
		sort.SliceStable(b.errs, func(i, j int) bool { return b.errs[i].Line < b.errs[j].Line })
		return nil, cfg.Scrub(unique(b.errs)) // filters quote values, some from ${ENV}
	}
	sort.SliceStable(b.warnings, func(i, j int) bool { return b.warnings[i].Line < b.warnings[j].Line })
	s.Warnings = unique(b.warnings)
	return s, nil
}

// upstream reuses the previous snapshot's upstream when its config is the
// same, so keep-alive pools (and later, health state) survive reloads.
func (b *builder) upstream(name string, uc *config.Upstream) *upstream.Upstream {
	if b.prev != nil {
		if old, ok := b.prev.upstreams[name]; ok && sameJSON(b.prev.Config.Upstreams[name], uc) {
			return old
		}
	}
	u, err := upstream.New(name, uc, upstream.WithLogger(b.logger))
	if err != nil {
		b.fail("upstreams."+name, err)
		return nil
	}
	if b.prev != nil {
		u.Inherit(b.prev.upstreams[name]) // a changed upstream keeps its targets' health
	}
	return u
}

func sameJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

func (b *builder) route(i int, rc *config.Route, s *Snapshot) *Route {
	base := fmt.Sprintf("routes[%d]", i)
	rate, grace := minBodyRate(b.cfg.Server.MinRequestBodyRate, rc.MinRequestBodyRate)
	respRate, respGrace := minBodyRate(b.cfg.Server.MinResponseRate, rc.MinResponseRate)
	r := &Route{
		Name:    rc.Name,
		maxBody: s.maxRequestBody,
		spec:    rc,
		index:   i,
		filters: filterNames(b.cfg, rc.Filters),
		proxy: b.proxy(proxy.Options{
			PreserveHost: rc.PreserveHost,
			Websocket:    rc.Websocket,
			Timeout:      rc.Timeouts.Request.D(),
			// Retries and the per-attempt header timeout (upstreams.go in config).
			ResponseHeaderTimeout: rc.Timeouts.ResponseHeader.D(),
			Retry:                 routeRetry(rc),
			ReadTimeout:           s.ioTimeouts.Read.D(),
			WriteTimeout:          s.ioTimeouts.Write.D(),
			MinBodyRate:           rate,
			MinBodyGrace:          grace,
			MinResponseRate:       respRate,
			MinResponseGrace:      respGrace,
			Observer:              attemptObserver(s.observer),
		}),
	}
	if rc.MaxRequestBody > 0 {
		r.maxBody = int64(rc.MaxRequestBody)
	}
	if rc.Deprecation != nil {
		r.deprecation = newDeprecation(rc.Name, rc.Deprecation, b.meter)
	}
	ok := true
	rw, err := router.NewRewriter(rc.Rewrite, rc.Match)
	if err != nil {
		b.fail(base, err)
		ok = false
	}
	r.rewrite = rw

	params, _ := router.ParamNames(rc.Match) // a bad path is reported by the router
	filters, chainKey, sharedChain := b.filters(rc.Filters, base+".filters", rc, params)
	r.chain = b.chain(filters, chainKey, sharedChain)

	switch {
	case rc.Respond != nil:
		if r.respond, err = compileRespond(rc.Respond, params, base+".respond"); err != nil {
			b.fail("", err)
			ok = false
		}
	case rc.Redirect != nil:
		if r.respond, err = compileRedirect(rc.Redirect, params, base+".redirect"); err != nil {
			b.fail("", err)
			ok = false
		}
	case rc.Aggregate != nil:
		r.fanout = b.aggregate(base, rc, params, s)
		ok = ok && r.fanout != nil
	case rc.Upstream != "":
		r.upstream = s.upstreams[rc.Upstream]
		if r.upstream == nil {
			ok = false // the upstream failed to build; already reported
		}
	case rc.Split != nil:
		r.split = b.newSplit(rc, s.upstreams)
		ok = ok && r.split != nil
	}
	if rc.Mirror != nil {
		r.mirror = b.newMirror(rc, s.upstreams)
		ok = ok && r.mirror != nil
	}
	if !ok {
		return nil
	}
	return r
}

// filters builds a route's filters, `- chain:` entries expanded in place
// (config.ExpandFilters). A chain's filter is built once per route using
// it; its errors name the chain's line, and buildWith reports each once.
//
// When every filter is a shared one (shared.go), chainKey names the list
// and sharedChain is true: routes with the same list can share a chain.
func (b *builder) filters(specs []config.FilterSpec, base string, rc *config.Route, params []string) (out []filter.Filter, chainKey string, sharedChain bool) {
	var singular map[string]string // kind and identity -> field of the first
	var key strings.Builder
	sharedChain = true
	for _, ef := range b.cfg.ExpandFilters(specs, base) {
		spec, field := ef.Spec, ef.Field
		sk, shareable := b.shareKey(spec, params)
		if shareable {
			if sf, ok := b.sharedFilter(sk); ok {
				if sf.singular {
					singular = b.singular(singular, rc, spec.Name, sf.identity, field)
				}
				out = append(out, sf.f)
				sk.appendTo(&key)
				continue
			}
		}
		fc, ok := filter.Lookup(spec.Name)
		if !ok {
			at := strings.TrimSuffix(field, "."+spec.Name)
			msg := fmt.Sprintf("unknown filter %q; valid: chain, %s", spec.Name, strings.Join(filter.Names(), ", "))
			if s := config.Closest(spec.Name, append(filter.Names(), "chain")); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			b.fail(at, errors.New(msg))
			continue
		}
		if err := config.Decode(b.cfg.File, spec.Node, field, fc); err != nil {
			b.errs = append(b.errs, asErrors(err)...)
			continue
		}
		if v, ok := fc.(filter.Validator); ok {
			if err := v.Validate(); err != nil {
				b.fail(field, err)
				continue
			}
		}
		sg, isSingular := fc.(filter.Singular)
		if isSingular {
			singular = b.singular(singular, rc, spec.Name, sg.SingularIdentity(), field)
		}
		bc := &filter.BuildContext{
			Route:       rc.Name,
			RouteParams: params,
			Logger:      b.logger.With("route", rc.Name, "filter", spec.Name),
			BaseLogger:  b.logger,
			Keeper:      b.keep,
			Meter:       b.meter,
			Config:      b.cfg,
			Upstream:    b.caller,
			DryRun:      b.dryRun,
		}
		f, err := fc.Build(bc)
		if err != nil {
			b.fail(field, err)
			continue
		}
		if _, ok := fc.(filter.Shareable); ok && shareable {
			sf := sharedFilter{f: f, singular: isSingular}
			if isSingular {
				sf.identity = sg.SingularIdentity()
			}
			if b.share(sk, sf) {
				sk.appendTo(&key)
				out = append(out, f)
				continue
			}
		}
		sharedChain = false
		out = append(out, f)
	}
	return out, key.String(), sharedChain
}

// singular notes a Singular filter of a route (seen holds the route's
// so far: kind and identity -> field; made on first use), warning about a
// second one.
func (b *builder) singular(seen map[string]string, rc *config.Route, kind, identity, field string) map[string]string {
	id := kind + "\x00" + identity
	if first, dup := seen[id]; dup {
		b.doubled(rc, kind, identity, first, field)
		return seen
	}
	if seen == nil {
		seen = map[string]string{}
	}
	seen[id] = field
	return seen
}

// doubled records a warning about a route with two filters of a kind that
// should not be doubled, at the second, naming the first. Two from one
// chain are one warning, whatever the number of routes using it.
func (b *builder) doubled(rc *config.Route, kind, identity, first, second string) {
	what := kind
	if identity != "" {
		what += " (" + identity + ")"
	}
	at := b.cfg.Errorf(first, "")
	msg := fmt.Sprintf("route %q has two %s filters, this one and %s at line %d; both run", rc.Name, what, first, at.Line)
	if kind == "rate_limit" {
		msg += ", so the lower limit wins; to change a chain's limit for one route, use - chain: { name: NAME, replace: { rate_limit: {...} } }"
	} else {
		msg += "; to drop a chain's for one route, use - chain: { name: NAME, exclude: [" + kind + "] }"
	}
	if strings.HasPrefix(first, "filter_chains") && strings.HasPrefix(second, "filter_chains") {
		msg = fmt.Sprintf("two %s filters in one route's chains, this one and %s at line %d; both run", what, first, at.Line)
	}
	b.warnings = append(b.warnings, b.cfg.Errorf(second, "%s", msg))
}

// unique drops repeats: a chain's filter is built for every route using
// it, and its problem is the same one, reported once at the chain's line.
func unique(es config.Errors) config.Errors {
	seen := map[string]bool{}
	out := es[:0:0]
	for _, e := range es {
		if k := e.Error(); !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	return out
}

func asErrors(err error) config.Errors {
	var es config.Errors
	if errors.As(err, &es) {
		return es
	}
	return config.Errors{{Msg: err.Error()}}
}

// routeRetry compiles a route's own retry policy; nil keeps the upstream's.
func routeRetry(rc *config.Route) *upstream.RetryPolicy {
	if rc.Retries == nil {
		return nil
	}
	return upstream.NewRetryPolicy(rc.Retries)
}

// minBodyRate is the route's minimum request (or response) body rate in bytes per second
// (0: off) and its grace: the route's settings where it has them, else the
// server's.
func minBodyRate(server config.BodyRate, route *config.BodyRate) (int64, time.Duration) {
	r := server
	if route != nil {
		if route.BytesPerSecond != nil {
			r.BytesPerSecond = route.BytesPerSecond
		}
		if route.Grace > 0 {
			r.Grace = route.Grace
		}
	}
	if r.BytesPerSecond == nil {
		return 0, 0
	}
	return int64(*r.BytesPerSecond), r.Grace.D()
}
