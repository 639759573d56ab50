package observe

import (
	"context"
	"errors"
	"io"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/wasmgate/wasmgate/core/filter"
)

// hooks are the instruments other packages record into; see README.md. Each
// is reached through a handle bound at build time (labels fixed then), so
// recording allocates nothing. Every handle is nil-safe: with metrics off,
// From returns nil and the handles it gives are nil too.
type hooks struct {
	rateLimit    metric.Int64Counter
	wasmCalls    metric.Int64Counter
	wasmErrors   metric.Int64Counter
	wasmDuration metric.Float64Histogram
}

func (h *hooks) init(mt metric.Meter) error {
	var err error
	var errs []error
	h.rateLimit, err = mt.Int64Counter("wasmgate.ratelimit.decisions", metric.WithUnit("{request}"),
		metric.WithDescription("Traffic-shaping decisions (rate limits, quotas, concurrency caps, priority shedding), by route, policy and outcome (allowed, limited, error)."))
	errs = append(errs, err)
	h.wasmCalls, err = mt.Int64Counter("wasmgate.wasm.calls", metric.WithUnit("{call}"),
		metric.WithDescription("Wasm filter callbacks, by plugin and phase."))
	errs = append(errs, err)
	h.wasmErrors, err = mt.Int64Counter("wasmgate.wasm.errors", metric.WithUnit("{call}"),
		metric.WithDescription("Wasm filter callbacks that failed, by plugin, phase and kind (trap, timeout, ...)."))
	errs = append(errs, err)
	h.wasmDuration, err = mt.Float64Histogram("wasmgate.wasm.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of Wasm filter callbacks, by plugin and phase."),
		metric.WithExplicitBucketBoundaries(0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05))
	errs = append(errs, err)
	return errors.Join(errs...)
}

// From returns the gateway's metrics for a filter being built, or nil when
// metrics are off. Filters call it in Build and bind handles there.
func From(bc *filter.BuildContext) *Meters {
	if bc == nil || bc.Config == nil || !metricsOf(bc.Config).Prometheus {
		return nil
	}
	v, err := bc.Keep(metricsKey{}, func() (io.Closer, error) { return newMeters() })
	if err != nil {
		return nil
	}
	return v.(*Meters)
}

// RateLimit counts one policy's decisions on one route.
type RateLimit struct {
	c                        metric.Int64Counter
	allowed, limited, failed []metric.AddOption
}

// RateLimit binds the decision counter for policy on route.
func (m *Meters) RateLimit(route, policy string) *RateLimit {
	if m == nil {
		return nil
	}
	bind := func(outcome string) []metric.AddOption {
		return addOpts(keyRoute.String(route), attribute.String("policy", policy), attribute.String("outcome", outcome))
	}
	return &RateLimit{c: m.rateLimit, allowed: bind("allowed"), limited: bind("limited"), failed: bind("error")}
}

// Allowed counts a request the policy let through.
func (r *RateLimit) Allowed() {
	if r != nil {
		r.c.Add(context.Background(), 1, r.allowed...)
	}
}

// Limited counts a request the policy refused.
func (r *RateLimit) Limited() {
	if r != nil {
		r.c.Add(context.Background(), 1, r.limited...)
	}
}

// Error counts a decision that could not be made (store unreachable).
func (r *RateLimit) Error() {
	if r != nil {
		r.c.Add(context.Background(), 1, r.failed...)
	}
}

// WasmPhase is one callback of one plugin: request headers, response body...
type WasmPhase struct {
	m            *Meters
	calls        []metric.AddOption
	dur          []metric.RecordOption
	errorsByKind map[string][]metric.AddOption
}

// WasmPhase binds the call metrics of plugin's phase. Error kinds must be a
// fixed set (trap, timeout, memory, ...).
func (m *Meters) WasmPhase(plugin, phase string, errorKinds ...string) *WasmPhase {
	if m == nil {
		return nil
	}
	kv := []attribute.KeyValue{attribute.String("plugin", plugin), attribute.String("phase", phase)}
	w := &WasmPhase{m: m, calls: addOpts(kv...), dur: recordOpts(kv...), errorsByKind: map[string][]metric.AddOption{}}
	for _, k := range errorKinds {
		w.errorsByKind[k] = addOpts(append(kv[:2:2], attribute.String("kind", k))...)
	}
	return w
}

// Call records one callback: its duration, and its error kind if it failed
// ("" when it did not; a kind not bound at build is counted as calls only).
func (w *WasmPhase) Call(d time.Duration, errorKind string) {
	if w == nil {
		return
	}
	ctx := context.Background()
	w.m.wasmCalls.Add(ctx, 1, w.calls...)
	w.m.wasmDuration.Record(ctx, d.Seconds(), w.dur...)
	if errorKind != "" {
		if o, ok := w.errorsByKind[errorKind]; ok {
			w.m.wasmErrors.Add(ctx, 1, o...)
		}
	}
}
