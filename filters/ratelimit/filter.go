package ratelimit

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/limits"
)

var errBadReply = errors.New("rate limit script returned an unexpected reply")

// Filter admits or refuses each request against its rate policy: the
// block's own, or a consumer's or tier's override.
type Filter struct {
	key        limits.Key
	headers    bool
	def        *policy
	consumers  map[string]*policy // by consumer name; nil without overrides
	tiers      map[string]*policy // by the consumer's metadata tier
	store      *limits.Store      // Redis: nil for store: local
	failClosed bool
	logger     *slog.Logger
	doc        filter.Requirement // for the portal (Requirement)
}

// policy is one rate with its state.
type policy struct {
	name   string
	sfName string   // name as a Structured Field String
	header []string // the RateLimit-Policy member, built once

	// local decides for store: local, and stands in for Redis while it is
	// unreachable under fail_open.
	local *local

	keyPrefix   string // Redis: store prefix + "{rl:" + route + ":" + name + ":" (the key and "}" follow)
	intervalUS  int64
	toleranceUS int64

	decisions *limits.Decisions
}

// verdict is a decision and the policy that made it, kept on the exchange
// for the response headers.
type verdict struct {
	decision
	p *policy
}

// decisionKey is the exchange key under which OnRequest leaves its verdict
// for OnResponse; one per filter, as a route may have several limits.
type decisionKey struct{ f *Filter }

// Build compiles the policies and finds (or keeps, across reloads) their
// state.
func (c *Config) Build(bc *filter.BuildContext) (filter.Filter, error) {
	if err := c.Key.Check(bc.RouteParams); err != nil {
		return nil, fmtField("key", err)
	}
	if err := c.checkConsumers(bc.Config); err != nil {
		return nil, err
	}
	name := c.Name
	if name == "" {
		name = bc.Route
	}
	f := &Filter{
		key:        c.Key,
		headers:    c.Headers == nil || *c.Headers,
		logger:     bc.Logger,
		failClosed: c.OnStoreFailure == limits.FailClosed,
		doc:        c.requirement(name),
	}
	if f.logger == nil {
		f.logger = slog.Default()
	}
	if c.Store == "redis" {
		var err error
		if f.store, err = limits.OpenStore(bc); err != nil {
			return nil, err
		}
		f.store.Load(gcraScript)
	}
	var err error
	if f.def, err = c.policy(bc, f.store, name, c.Rate, c.Burst); err != nil {
		return nil, err
	}
	for set, m := range map[string]map[string]Override{"": c.Consumers, "tier-": c.Tiers} {
		if len(m) == 0 {
			continue
		}
		ps := make(map[string]*policy, len(m))
		for k, o := range m {
			if ps[k], err = c.policy(bc, f.store, name+"."+set+k, o.Rate, o.Burst); err != nil {
				return nil, err
			}
		}
		if set == "" {
			f.consumers = ps
		} else {
			f.tiers = ps
		}
	}
	return f, nil
}

// policy builds one policy. Its local state outlives a reload that leaves
// it as it was, so a reload is not a way to reset everyone's limit.
func (c *Config) policy(bc *filter.BuildContext, store *limits.Store, name string, rate Rate, burstCfg int) (*policy, error) {
	burst := burstOf(rate, burstCfg)
	interval := rate.interval()
	p := &policy{
		name:   name,
		sfName: limits.SFString(name),
		header: []string{limits.PolicyItem(name, burst, time.Duration(burst)*interval, "")},
		// wasmgate_ratelimit_decisions_total{http_route, policy, outcome}
		decisions: limits.NewDecisions(bc, name, true),
	}
	id := localKey{route: bc.Route, policy: name, interval: interval, burst: burst, key: c.Key.Ident(), maxKeys: c.maxKeys()}
	lc, err := bc.Keep(id, func() (io.Closer, error) { return newLocal(interval, burst, c.maxKeys()), nil })
	if err != nil {
		return nil, err
	}
	p.local = lc.(*local)
	if store != nil {
		p.keyPrefix = store.Prefix() + "{rl:" + bc.Route + ":" + name + ":"
		p.intervalUS = int64(interval / time.Microsecond)
		p.toleranceUS = p.intervalUS * burst
	}
	return p, nil
}

// checkConsumers refuses overrides for consumers the config does not
// define: a typo would silently leave a customer on the default rate.
func (c *Config) checkConsumers(cfg *config.Config) error {
	if cfg == nil || len(c.Consumers) == 0 {
		return nil
	}
	known := make([]string, 0, len(cfg.Consumers))
	for _, cc := range cfg.Consumers {
		known = append(known, cc.Name)
	}
	for _, name := range slices.Sorted(maps.Keys(c.Consumers)) {
		if !slices.Contains(known, name) {
			msg := fmt.Sprintf("unknown consumer %q; consumers are declared under consumers: at the top of the config", name)
			if near := config.Closest(name, known); near != "" {
				msg += fmt.Sprintf("; did you mean %q?", near)
			}
			return config.FieldErr("consumers."+name, "%s", msg)
		}
	}
	return nil
}

// localKey is what a policy's local buckets depend on: a reload that
// changes none of it keeps everyone's remaining budget.
type localKey struct {
	route, policy string
	interval      time.Duration
	burst         int64
	key           string // limits.Key.Ident
	maxKeys       int
}

func fmtField(field string, err error) error { return config.FieldErr(field, "%v", err) }

// policyFor is the policy for the exchange's consumer: its own override,
// its tier's, else the block's.
func (f *Filter) policyFor(x *filter.Exchange) *policy {
	if c := x.Consumer; c != nil && (f.consumers != nil || f.tiers != nil) {
		if p := f.consumers[c.Name]; p != nil {
			return p
		}
		if p := f.tiers[c.Metadata["tier"]]; p != nil {
			return p
		}
	}
	return f.def
}

// OnRequest decides, and refuses with 429 (or 503 when Redis cannot decide
// under fail_closed).
func (f *Filter) OnRequest(x *filter.Exchange) *filter.Response {
	p := f.policyFor(x)
	d, ok := f.decide(x, p)
	if !ok {
		p.decisions.Error()
		return limits.StoreUnavailable(p.name)
	}
	if f.headers {
		x.Set(decisionKey{f}, verdict{d, p})
	}
	if !d.allowed {
		p.decisions.Limited()
		return limits.Reject(http.StatusTooManyRequests, "rate limit exceeded", p.name, d.retry)
	}
	p.decisions.Allowed()
	return nil
}

// decide returns p's decision, or ok=false when the request must be
// refused because Redis cannot be asked and the policy is fail_closed.
func (f *Filter) decide(x *filter.Exchange, p *policy) (d decision, ok bool) {
	if f.store == nil {
		return p.local.allow(f.key.Hash(x), clock()), true
	}
	d, err := f.remote(p, f.key.Render(x))
	if err == nil {
		return d, true
	}
	if f.failClosed {
		f.store.CountFailover(limits.FailClosed)
	} else {
		f.store.CountFailover(limits.FailOpen)
	}
	if !errors.Is(err, limits.ErrStoreDown) {
		f.logger.Debug("rate limit decided without redis", "policy", p.name, "err", err)
	}
	if f.failClosed {
		return decision{}, false
	}
	return p.local.allow(f.key.Hash(x), clock()), true
}

// OnResponse tells the client where it stands (the 429 this filter made
// included).
func (f *Filter) OnResponse(x *filter.Exchange) *filter.Response {
	v, ok := x.Value(decisionKey{f}).(verdict)
	if !ok || x.Response == nil {
		return nil
	}
	h := x.Response.Header
	if h == nil {
		h = http.Header{}
		x.Response.Header = h
	}
	h[limits.HeaderPolicy] = append(h[limits.HeaderPolicy], v.p.header...)
	h[limits.HeaderLimit] = append(h[limits.HeaderLimit], limits.LimitItem(v.p.sfName, v.remaining, v.reset))
	return nil
}

// Name is the name of the block's own policy.
func (f *Filter) Name() string { return f.def.name }

var (
	_ filter.Filter         = (*Filter)(nil)
	_ filter.ResponseFilter = (*Filter)(nil)
	_ filter.Validator      = (*Config)(nil)
	_ io.Closer             = (*local)(nil)
)
