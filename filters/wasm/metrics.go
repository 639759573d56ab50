package wasm

import (
	"sync/atomic"
	"time"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/wasm/guestmetric"
)

// counters are a plugin's metrics, cheap enough for the hot path.
type counters struct {
	exchanges          atomic.Uint64
	failures           atomic.Uint64
	timeouts           atomic.Uint64
	unavailable        atomic.Uint64
	localResponses     atomic.Uint64
	instancesCreated   atomic.Uint64
	instancesDiscarded atomic.Uint64
	closes             atomic.Uint64
}

// Stats is a snapshot of a plugin's counters and pool.
type Stats struct {
	Exchanges          uint64 // exchanges that entered the plugin
	Failures           uint64 // traps, deadlines, host errors, no instance
	Timeouts           uint64 // failures that were deadlines
	Unavailable        uint64 // failures to get any instance
	LocalResponses     uint64 // proxy_send_local_response answers
	InstancesCreated   uint64
	InstancesDiscarded uint64
	Closed             bool
	LiveInstances      int
	IdleInstances      int
	MemoryBytes        uint64 // the live instances' linear memory
}

// Stats returns the plugin's counters.
func (p *Plugin) Stats() Stats {
	live, idle := p.pool.Size()
	var memory uint64
	for _, in := range p.pool.Live() {
		memory += uint64(in.memBytes.Load())
	}
	return Stats{
		Exchanges:          p.stats.exchanges.Load(),
		Failures:           p.stats.failures.Load(),
		Timeouts:           p.stats.timeouts.Load(),
		Unavailable:        p.stats.unavailable.Load(),
		LocalResponses:     p.stats.localResponses.Load(),
		InstancesCreated:   p.stats.instancesCreated.Load(),
		InstancesDiscarded: p.stats.instancesDiscarded.Load(),
		Closed:             p.stats.closes.Load() > 0,
		LiveInstances:      live,
		IdleInstances:      idle,
		MemoryBytes:        memory,
	}
}

// The plugin call metrics, registered by each route's wasm filter with its
// plugin name and phase as labels.
var (
	callsMetric = filter.Metric{Name: "wasmgate.wasm.calls", Unit: "{call}",
		Help: "Wasm filter callbacks, by plugin and phase."}
	errorsMetric = filter.Metric{Name: "wasmgate.wasm.errors", Unit: "{call}",
		Help: "Wasm filter callbacks that failed, by plugin, phase and kind (trap, timeout, ...)."}
	durationMetric = filter.Metric{Name: "wasmgate.wasm.duration", Unit: "s",
		Help:    "Duration of Wasm filter callbacks, by plugin and phase.",
		Buckets: []float64{0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05}}
)

// phaseMetrics are a route's plugin call metrics, bound at build:
// wasmgate_wasm_calls_total, _errors_total by kind, _duration_seconds. nil
// when metrics are off, so the hot path then reads no clock.
type phaseMetrics struct {
	request, response, done phaseMeter
}

// phaseMeter is one callback of one plugin: request headers, response...
type phaseMeter struct {
	calls                         *filter.Counter
	duration                      filter.Histogram
	timeout, unavailable, failure *filter.Counter
}

// Failure kinds, a fixed set: a deadline, no instance to run on, anything
// else (traps, host errors).
const (
	failKindTimeout     = "timeout"
	failKindUnavailable = "unavailable"
	failKindError       = "error"
)

func newPhaseMetrics(bc *filter.BuildContext, plugin string) *phaseMetrics {
	if bc.Meter == nil {
		return nil
	}
	// The guests' own metrics (proxy_define_metric), every plugin's, read
	// at scrape time; named by guestmetric.Series. One registration under
	// a fixed key, whichever route registers last.
	bc.Collect("wasm.guest_metrics", guestmetric.Exporter{})
	bind := func(phase string) phaseMeter {
		p, ph := filter.Label{Key: "plugin", Value: plugin}, filter.Label{Key: "phase", Value: phase}
		kind := func(k string) *filter.Counter {
			return bc.Counter(errorsMetric, p, ph, filter.Label{Key: "kind", Value: k})
		}
		return phaseMeter{
			calls:    bc.Counter(callsMetric, p, ph),
			duration: bc.Histogram(durationMetric, p, ph),
			timeout:  kind(failKindTimeout), unavailable: kind(failKindUnavailable), failure: kind(failKindError),
		}
	}
	return &phaseMetrics{request: bind("request"), response: bind("response"), done: bind("done")}
}

// recordPhase records one phase of s, begun at t0: its duration, and its
// failure kind if it failed.
func recordPhase(m *phaseMeter, t0 time.Time, s *stream) {
	m.calls.Inc()
	m.duration.Record(time.Since(t0).Seconds())
	switch s.kind {
	case "":
	case failKindTimeout:
		m.timeout.Inc()
	case failKindUnavailable:
		m.unavailable.Inc()
	case failKindError:
		m.failure.Inc()
	}
}

// PluginStatus implements filter.PluginReporter: the plugin's state for the
// admin API.
func (f *Filter) PluginStatus() filter.PluginStatus {
	st := f.p.Stats()
	// Failures counts every kind; what is neither a deadline nor a missing
	// instance trapped or failed in the host.
	traps := st.Failures - min(st.Failures, st.Timeouts+st.Unavailable)
	return filter.PluginStatus{
		Name: f.p.name, Kind: "wasm",
		Instances: st.LiveInstances, IdleInstances: st.IdleInstances, MaxInstances: f.p.opts.Instances,
		Exchanges: st.Exchanges, Failures: st.Failures, Traps: traps, DeadlineHits: st.Timeouts, Unavailable: st.Unavailable,
		InstancesCreated: st.InstancesCreated, InstancesDiscarded: st.InstancesDiscarded,
		MemoryBytes: st.MemoryBytes, MemoryLimitBytes: f.p.opts.MemoryLimit,
	}
}

var _ filter.PluginReporter = (*Filter)(nil)
