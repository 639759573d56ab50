package wasm

import (
	"github.com/wasmgate/wasmgate/filters/wasm/guestmetric"
)

// Plugin-defined metrics (proxy_define_metric and friends). They live in
// the leaf package guestmetric, by plugin name, shared by the plugin's
// instances; exporters read guestmetric.Snapshot (or GuestMetrics here).
// The host functions are internal/proxywasm's (metrics.go there).

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
