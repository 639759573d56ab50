package wasm

import (
	"context"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/filters/wasm/guestmetric"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/proxywasm"
)

// Plugin-defined metrics (proxy_define_metric and friends). They live in
// the leaf package guestmetric, by plugin name, shared by the plugin's
// instances; exporters read guestmetric.Snapshot (or GuestMetrics here).

// metricSet is a plugin's metrics.
type metricSet = guestmetric.Set

func metricsFor(plugin string) *metricSet { return guestmetric.Acquire(plugin) }

// GuestMetrics returns every loaded plugin's own metrics (name, kind,
// value, plugin), appended to dst. Same as guestmetric.Snapshot, which is
// what packages that filters/wasm imports (observe) call.
func GuestMetrics(dst []guestmetric.Metric) []guestmetric.Metric { return guestmetric.Snapshot(dst) }

// Metrics returns this plugin's own metrics.
func (p *Plugin) Metrics() []guestmetric.Metric {
	var out []guestmetric.Metric
	for _, m := range guestmetric.Snapshot(nil) {
		if m.Plugin == p.name {
			out = append(out, m)
		}
	}
	return out
}

func hostDefineMetric(_ context.Context, in *instance, mem api.Memory, a []uint64) proxywasm.Status {
	kind := guestmetric.Kind(arg(a, 0))
	if kind > guestmetric.Histogram {
		return proxywasm.StatusBadArgument
	}
	name, ok := read(mem, arg(a, 1), arg(a, 2))
	if !ok || mem == nil {
		return proxywasm.StatusInvalidMemoryAccess
	}
	if len(name) == 0 {
		return proxywasm.StatusBadArgument
	}
	if _, ok := mem.Read(arg(a, 3), 4); !ok {
		return proxywasm.StatusInvalidMemoryAccess
	}
	id := in.p.host.metrics.Define(kind, string(name))
	if id == 0 {
		return proxywasm.StatusBadArgument // another kind under this name, or too many metrics
	}
	mem.WriteUint32Le(arg(a, 3), id)
	return proxywasm.StatusOK
}

func hostIncrementMetric(_ context.Context, in *instance, _ api.Memory, a []uint64) proxywasm.Status {
	e := in.p.host.metrics.Get(arg(a, 0))
	if e == nil {
		return proxywasm.StatusNotFound
	}
	d := int64(a[1])
	switch {
	case e.Kind == guestmetric.Histogram:
		return proxywasm.StatusBadArgument
	case e.Kind == guestmetric.Counter && d < 0:
		return proxywasm.StatusBadArgument
	}
	e.Add(d)
	return proxywasm.StatusOK
}

func hostRecordMetric(_ context.Context, in *instance, _ api.Memory, a []uint64) proxywasm.Status {
	e := in.p.host.metrics.Get(arg(a, 0))
	if e == nil {
		return proxywasm.StatusNotFound
	}
	if e.Kind == guestmetric.Counter { // as Envoy: recording a counter adds to it
		e.Add(int64(a[1] & (1<<63 - 1)))
		return proxywasm.StatusOK
	}
	e.Record(int64(a[1]))
	return proxywasm.StatusOK
}

func hostGetMetric(_ context.Context, in *instance, mem api.Memory, a []uint64) proxywasm.Status {
	e := in.p.host.metrics.Get(arg(a, 0))
	if e == nil {
		return proxywasm.StatusNotFound
	}
	if e.Kind == guestmetric.Histogram { // as Envoy: a histogram has no single value
		return proxywasm.StatusBadArgument
	}
	if mem == nil || !mem.WriteUint64Le(arg(a, 1), uint64(e.Value())) {
		return proxywasm.StatusInvalidMemoryAccess
	}
	return proxywasm.StatusOK
}
