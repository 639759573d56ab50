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
	wasmCalls    metric.Int64Counter
	wasmErrors   metric.Int64Counter
	wasmDuration metric.Float64Histogram
}

func (h *hooks) init(mt metric.Meter) error {
	var err error
	var errs []error
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
