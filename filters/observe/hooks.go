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
	authFailures  metric.Int64Counter
	rateLimit     metric.Int64Counter
	wasmCalls     metric.Int64Counter
	wasmErrors    metric.Int64Counter
	wasmDuration  metric.Float64Histogram
	breakerState  metric.Int64Gauge
	targetHealthy metric.Int64Gauge
}

func (h *hooks) init(mt metric.Meter) error {
	var err error
	var errs []error
	h.authFailures, err = mt.Int64Counter("wasmgate.auth.failures", metric.WithUnit("{request}"),
		metric.WithDescription("Requests an auth filter refused, by route, filter and reason."))
	errs = append(errs, err)
	h.rateLimit, err = mt.Int64Counter("wasmgate.ratelimit.decisions", metric.WithUnit("{request}"),
		metric.WithDescription("Rate-limit decisions, by route, policy and outcome (allowed, limited, error)."))
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
	h.breakerState, err = mt.Int64Gauge("wasmgate.upstream.circuit_breaker.state",
		metric.WithDescription("Circuit-breaker state per target: 0 closed, 1 half-open, 2 open."))
	errs = append(errs, err)
	h.targetHealthy, err = mt.Int64Gauge("wasmgate.upstream.target.healthy",
		metric.WithDescription("Whether a target is considered healthy (1) or ejected (0)."))
	errs = append(errs, err)
	return errors.Join(errs...)
}

// From returns the gateway's metrics for a filter being built, or nil when
// metrics are off. Filters call it in Build and bind handles there.
func From(bc *filter.BuildContext) *Meters {
	if bc == nil || bc.Config == nil || !bc.Config.Observability.Metrics.Prometheus || bc.Keep == nil {
		return nil
	}
	v, err := bc.Keep(metricsKey, func() (io.Closer, error) { return newMeters() })
	if err != nil {
		return nil
	}
	return v.(*Meters)
}

// AuthFailures counts one auth filter's refusals on one route, by reason.
// Reasons must be a fixed set (missing, invalid, expired, forbidden, ...).
type AuthFailures struct {
	c   metric.Int64Counter
	set map[string][]metric.AddOption
}

// AuthFailures binds the counter for filterName on route, for reasons.
func (m *Meters) AuthFailures(route, filterName string, reasons ...string) *AuthFailures {
	if m == nil {
		return nil
	}
	a := &AuthFailures{c: m.authFailures, set: make(map[string][]metric.AddOption, len(reasons))}
	for _, r := range reasons {
		a.set[r] = addOpts(keyRoute.String(route), attribute.String("filter", filterName), attribute.String("reason", r))
	}
	return a
}

// Fail counts a refusal; a reason not bound at build is ignored.
func (a *AuthFailures) Fail(reason string) {
	if a == nil {
		return
	}
	if o, ok := a.set[reason]; ok {
		a.c.Add(context.Background(), 1, o...)
	}
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
// ("" when it did not).
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

// Breaker states, as the circuit-breaker gauge reports them.
const (
	BreakerClosed   = 0
	BreakerHalfOpen = 1
	BreakerOpen     = 2
)

// TargetState reports one upstream target's breaker state and health.
type TargetState struct {
	m    *Meters
	opts []metric.RecordOption
}

// TargetState binds the state gauges of upstream's target (host:port).
func (m *Meters) TargetState(upstream, target string) *TargetState {
	if m == nil {
		return nil
	}
	return &TargetState{m: m, opts: recordOpts(keyUpstream.String(upstream), keyTarget.String(target))}
}

// Breaker sets the target's breaker state (BreakerClosed, ...).
func (t *TargetState) Breaker(state int64) {
	if t != nil {
		t.m.breakerState.Record(context.Background(), state, t.opts...)
	}
}

// Healthy sets whether the target is in rotation.
func (t *TargetState) Healthy(ok bool) {
	if t != nil {
		v := int64(0)
		if ok {
			v = 1
		}
		t.m.targetHealthy.Record(context.Background(), v, t.opts...)
	}
}
