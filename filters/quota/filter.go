package quota

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/limits"
)

// quotaScript is one decision, atomic: a request that would pass the limit
// is refused without counting (rejected requests never consume).
//
// KEYS[1] the window's counter, <prefix>{quota:<name>:<key>}:<window> (the
// hash tag keeps a consumer's windows in one cluster slot); ARGV: limit, expiry (unix ms).
// Returns {admitted, remaining}.
var quotaScript = redis.NewScript(`
local limit = tonumber(ARGV[1])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used + 1 > limit then
  return {0, limit - used}
end
used = redis.call('INCR', KEYS[1])
if used == 1 then
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
end
return {1, limit - used}
`)

// Filter counts requests against a calendar window in Redis.
type Filter struct {
	name       string
	decisions  *limits.Decisions
	sfName     string
	policy     []string
	key        limits.Key
	limit      int64
	period     string
	headers    bool
	failClosed bool
	store      *limits.Store
	prefix     string
	now        func() time.Time
}

type result struct {
	remaining int64
	reset     time.Duration
	counted   bool
}

type resultKey struct{ f *Filter }

// Build connects to the shared store.
func (c *Config) Build(bc *filter.BuildContext) (filter.Filter, error) {
	if err := c.Key.Check(bc.RouteParams); err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	key := c.Key
	if key.Global() {
		key, _ = limits.ParseKey("consumer")
	}
	store, err := limits.OpenStore(bc)
	if err != nil {
		return nil, err
	}
	var window time.Duration
	switch c.Period {
	case "hour":
		window = time.Hour
	case "day":
		window = 24 * time.Hour
	} // a month has no fixed length: w is left out
	f := &Filter{
		decisions:  limits.NewDecisions(bc, c.Name, true),
		name:       c.Name,
		sfName:     limits.SFString(c.Name),
		policy:     []string{limits.PolicyItem(c.Name, c.Limit, window, "")},
		key:        key,
		limit:      c.Limit,
		period:     c.Period,
		headers:    c.Headers == nil || *c.Headers,
		failClosed: c.OnStoreFailure == limits.FailClosed,
		store:      store,
		prefix:     store.Prefix() + "{quota:" + c.Name + ":",
		now:        time.Now,
	}
	store.Load(quotaScript)
	return f, nil
}

// window is the calendar window holding t (UTC): its label and its end.
func (f *Filter) window(t time.Time) (string, time.Time) {
	t = t.UTC()
	switch f.period {
	case "hour":
		start := t.Truncate(time.Hour)
		return start.Format("2006-01-02T15"), start.Add(time.Hour)
	case "day":
		start := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		return start.Format("2006-01-02"), start.AddDate(0, 0, 1)
	}
	start := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return start.Format("2006-01"), start.AddDate(0, 1, 0)
}

// OnRequest counts the request, or refuses it when the quota is spent.
func (f *Filter) OnRequest(x *filter.Exchange) *filter.Response {
	now := f.now()
	label, end := f.window(now)
	reset := end.Sub(now)
	// The counter outlives its window by an hour, for clocks that disagree.
	res, err := f.store.Run(quotaScript, []string{f.prefix + f.key.Render(x) + "}:" + label}, f.limit, end.Add(time.Hour).UnixMilli())
	if err == nil && len(res) != 2 {
		err = errors.New("quota script returned an unexpected reply")
	}
	if err != nil {
		f.decisions.Error()
		if f.failClosed {
			f.store.CountFailover(limits.FailClosed)
			return limits.StoreUnavailable(f.name)
		}
		f.store.CountFailover(limits.FailOpen)
		return nil // admitted uncounted; no headers, since nothing is known
	}
	if f.headers {
		x.Set(resultKey{f}, result{remaining: res[1], reset: reset, counted: true})
	}
	if res[0] != 1 {
		f.decisions.Limited()
		return limits.Reject(http.StatusTooManyRequests, "quota exceeded", f.name, reset)
	}
	f.decisions.Allowed()
	return nil
}

// OnResponse shows the quota and what is left of it.
func (f *Filter) OnResponse(x *filter.Exchange) *filter.Response {
	r, ok := x.Value(resultKey{f}).(result)
	if !ok || x.Response == nil {
		return nil
	}
	if x.Response.Header == nil {
		x.Response.Header = http.Header{}
	}
	h := x.Response.Header
	h[limits.HeaderPolicy] = append(h[limits.HeaderPolicy], f.policy...)
	h[limits.HeaderLimit] = append(h[limits.HeaderLimit], limits.LimitItem(f.sfName, r.remaining, r.reset))
	return nil
}

var (
	_ filter.Filter         = (*Filter)(nil)
	_ filter.ResponseFilter = (*Filter)(nil)
	_ filter.Validator      = (*Config)(nil)
)
