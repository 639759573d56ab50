package wasm

import (
	"sync/atomic"
	"time"

	"github.com/wasmgate/wasmgate/filters/observe"
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
}

// Stats returns the plugin's counters.
func (p *Plugin) Stats() Stats {
	live, idle := p.pool.size()
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
	}
}

// phaseMetrics are a route's plugin call metrics, bound at build (labels:
// plugin name and phase): wasmgate_wasm_calls_total, _errors_total by kind,
// _duration_seconds. nil when metrics are off, so the hot path then pays a
// nil check only.
type phaseMetrics struct {
	request, response, done *observe.WasmPhase
}

// Failure kinds, a fixed set: a deadline, no instance to run on, anything
// else (traps, host errors).
const (
	failKindTimeout     = "timeout"
	failKindUnavailable = "unavailable"
	failKindError       = "error"
)

func newPhaseMetrics(m *observe.Meters, plugin string) *phaseMetrics {
	if m == nil {
		return nil
	}
	bind := func(phase string) *observe.WasmPhase {
		return m.WasmPhase(plugin, phase, failKindTimeout, failKindUnavailable, failKindError)
	}
	return &phaseMetrics{request: bind("request"), response: bind("response"), done: bind("done")}
}

// recordPhase records one phase of s, begun at t0.
func recordPhase(w *observe.WasmPhase, t0 time.Time, s *stream) { w.Call(time.Since(t0), s.kind) }
