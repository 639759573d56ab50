package priority

import (
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/limits"
)

// Filter admits a request while its group's in-flight count is under the
// request's level threshold, and counts it in flight until OnDone.
type Filter struct {
	group      string
	level      string
	threshold  int64
	thresholds map[string]int64 // per level, for consumer overrides
	metaKey    string
	gate       *gate
	// wasmgate_ratelimit_decisions_total{http_route, policy="priority:GROUP",
	// outcome}.
	decisions *limits.Decisions
}

// gate is a group's in-flight count, shared by the routes of the group and
// kept across reloads.
type gate struct{ inflight atomic.Int64 }

func (g *gate) Close() error { return nil }

// gateKey keeps one gate per group, whatever the route.
type gateKey struct{ group string }

type admittedKey struct{ f *Filter }

// Build resolves the thresholds once.
func (c *Config) Build(bc *filter.BuildContext) (filter.Filter, error) {
	f := &Filter{
		group:      c.Group,
		level:      levelOr(c.Level, "normal"),
		metaKey:    c.ConsumerLevel,
		thresholds: map[string]int64{},
	}
	if f.group == "" {
		f.group = "gateway"
	}
	if f.metaKey == "" {
		f.metaKey = "priority"
	}
	for l := range shares {
		f.thresholds[l] = c.threshold(l)
	}
	f.threshold = f.thresholds[f.level]
	v, err := bc.Keep(gateKey{f.group}, func() (io.Closer, error) { return &gate{}, nil })
	if err != nil {
		return nil, err
	}
	f.gate = v.(*gate)
	f.decisions = limits.NewDecisions(bc, "priority:"+f.group, false)
	return f, nil
}

// OnRequest counts the request in, or sheds it.
func (f *Filter) OnRequest(x *filter.Exchange) *filter.Response {
	limit := f.threshold
	if x.Consumer != nil {
		if l, ok := f.thresholds[x.Consumer.Metadata[f.metaKey]]; ok {
			limit = l
		}
	}
	if n := f.gate.inflight.Add(1); n > limit {
		f.gate.inflight.Add(-1)
		f.decisions.Limited()
		return limits.Reject(http.StatusServiceUnavailable,
			fmt.Sprintf("overloaded: shedding lower-priority requests (group %s)", f.group), "priority:"+f.group, time.Second)
	}
	f.decisions.Allowed()
	x.Set(admittedKey{f}, true)
	return nil
}

// OnDone counts an admitted request out.
func (f *Filter) OnDone(x *filter.Exchange) {
	if x.Value(admittedKey{f}) != nil {
		f.gate.inflight.Add(-1)
	}
}

// InFlight is the group's in-flight count.
func (f *Filter) InFlight() int64 { return f.gate.inflight.Load() }

var (
	_ filter.Filter     = (*Filter)(nil)
	_ filter.DoneFilter = (*Filter)(nil)
	_ filter.Validator  = (*Config)(nil)
)
