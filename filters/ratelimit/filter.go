package ratelimit

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/limits"
	"github.com/wasmgate/wasmgate/filters/observe"
)

var errBadReply = errors.New("rate limit script returned an unexpected reply")

// Filter admits or refuses each request against one rate policy.
type Filter struct {
	name    string
	sfName  string   // name as a Structured Field String
	policy  []string // the RateLimit-Policy member, built once
	key     limits.Key
	headers bool

	// local decides for store: local, and stands in for Redis while it is
	// unreachable under fail_open.
	local *local

	// Redis: nil for store: local.
	store       *limits.Store
	keyPrefix   string // store prefix + "rl:" + route + ":" + name + ":"
	intervalUS  int64
	toleranceUS int64
	failClosed  bool
	logger      *slog.Logger

	decisions *observe.RateLimit // nil when metrics are off
}

// decisionKey is the exchange key under which OnRequest leaves its decision
// for OnResponse; one per filter, as a route may have several limits.
type decisionKey struct{ f *Filter }

// Build compiles the policy and finds (or keeps, across reloads) its state.
func (c *Config) Build(bc *filter.BuildContext) (filter.Filter, error) {
	if err := c.Key.Check(bc.RouteParams); err != nil {
		return nil, fmtField("key", err)
	}
	name := c.Name
	if name == "" {
		name = bc.Route
	}
	burst := c.burst()
	interval := c.Rate.interval()
	f := &Filter{
		name:    name,
		sfName:  limits.SFString(name),
		key:     c.Key,
		headers: c.Headers == nil || *c.Headers,
		logger:  bc.Logger,
		// wasmgate_ratelimit_decisions_total{http_route, policy, outcome}
		decisions: observe.From(bc).RateLimit(bc.Route, name),
	}
	if f.logger == nil {
		f.logger = slog.Default()
	}
	f.policy = []string{limits.PolicyItem(name, burst, time.Duration(burst)*interval, "")}

	// The local state outlives a reload that leaves this policy as it was,
	// so a reload is not a way to reset everyone's limit.
	id := fmt.Sprintf("ratelimit.local:%s\x00%s\x00%d\x00%d\x00%s\x00%d", bc.Route, name, interval, burst, c.Key, c.maxKeys())
	lc, err := keep(bc, id, func() (io.Closer, error) { return newLocal(interval, burst, c.maxKeys()), nil })
	if err != nil {
		return nil, err
	}
	f.local = lc.(*local)

	if c.Store == "redis" {
		if f.store, err = limits.OpenStore(bc); err != nil {
			return nil, err
		}
		f.keyPrefix = f.store.Prefix() + "rl:" + bc.Route + ":" + name + ":"
		f.intervalUS = int64(interval / time.Microsecond)
		f.toleranceUS = f.intervalUS * burst
		f.failClosed = c.OnStoreFailure == limits.FailClosed
		f.store.Load(gcraScript)
	}
	return f, nil
}

func keep(bc *filter.BuildContext, key string, create func() (io.Closer, error)) (io.Closer, error) {
	if bc.Keep == nil {
		return create()
	}
	return bc.Keep(key, create)
}

func fmtField(field string, err error) error { return config.FieldErr(field, "%v", err) }

// OnRequest decides, and refuses with 429 (or 503 when Redis cannot decide
// under fail_closed).
func (f *Filter) OnRequest(x *filter.Exchange) *filter.Response {
	d, ok := f.decide(x)
	if !ok {
		f.decisions.Error()
		return limits.StoreUnavailable(f.name)
	}
	if f.headers {
		x.Set(decisionKey{f}, d)
	}
	if !d.allowed {
		f.decisions.Limited()
		return limits.Reject(http.StatusTooManyRequests, "rate limit exceeded", f.name, d.retry)
	}
	f.decisions.Allowed()
	return nil
}

// decide returns the decision, or ok=false when the request must be
// refused because Redis cannot be asked and the policy is fail_closed.
func (f *Filter) decide(x *filter.Exchange) (d decision, ok bool) {
	if f.store == nil {
		return f.local.allow(f.key.Hash(x), clock()), true
	}
	d, err := f.remote(f.keyPrefix + f.key.Render(x))
	if err == nil {
		return d, true
	}
	f.store.CountFailover()
	if !errors.Is(err, limits.ErrStoreDown) {
		f.logger.Debug("rate limit decided without redis", "policy", f.name, "err", err)
	}
	if f.failClosed {
		return decision{}, false
	}
	return f.local.allow(f.key.Hash(x), clock()), true
}

// OnResponse tells the client where it stands (the 429 this filter made
// included).
func (f *Filter) OnResponse(x *filter.Exchange) *filter.Response {
	v, ok := x.Value(decisionKey{f}).(decision)
	if !ok || x.Response == nil {
		return nil
	}
	h := x.Response.Header
	if h == nil {
		h = http.Header{}
		x.Response.Header = h
	}
	h[limits.HeaderPolicy] = append(h[limits.HeaderPolicy], f.policy...)
	h[limits.HeaderLimit] = append(h[limits.HeaderLimit], limits.LimitItem(f.sfName, v.remaining, v.reset))
	return nil
}

// Name is the policy name.
func (f *Filter) Name() string { return f.name }

var (
	_ filter.Filter         = (*Filter)(nil)
	_ filter.ResponseFilter = (*Filter)(nil)
	_ filter.Validator      = (*Config)(nil)
	_ io.Closer             = (*local)(nil)
)
