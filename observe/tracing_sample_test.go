package observe

import (
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/wasmgate/wasmgate/core/filter"
)

// begin decides on sampling itself for unsampled exchanges: its decisions
// must be the SDK sampler's, and an unsampled span must carry what the SDK's
// would (IDs, flags, trace state).
func TestBeginSamplesAsTheSDK(t *testing.T) {
	withMemExporter(t)
	for _, ratio := range []float64{0, 0.3, 1} {
		tr, err := newTracing(Tracing{OTLPEndpoint: "http://127.0.0.1:4318", Sample: &ratio})
		if err != nil {
			t.Fatal(err)
		}
		sdk := sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))
		sampled := 0
		for i := 0; i < 2000; i++ {
			x := &filter.Exchange{Request: httptest.NewRequest("GET", "/", nil)}
			tr.begin(x)
			sc := x.Span().SpanContext()
			if !sc.IsValid() {
				t.Fatalf("ratio %v: invalid span context", ratio)
			}
			want := sdk.ShouldSample(sdktrace.SamplingParameters{ParentContext: t.Context(), TraceID: sc.TraceID()}).Decision == sdktrace.RecordAndSample
			if got := x.Span().IsRecording(); got != want || sc.IsSampled() != want {
				t.Fatalf("ratio %v, trace %s: recording %v, sampled flag %v; the SDK samples: %v", ratio, sc.TraceID(), got, sc.IsSampled(), want)
			}
			if want {
				sampled++
			}
			x.Span().End()
		}
		if ratio == 0.3 && (sampled < 450 || sampled > 750) {
			t.Errorf("ratio 0.3: %d of 2000 sampled", sampled)
		}
		_ = tr.Close()
	}
}

// A client's unsampled trace context is continued, unsampled, at any ratio:
// same trace, a new span, the client's trace state.
func TestBeginContinuesUnsampledParent(t *testing.T) {
	mem := withMemExporter(t)
	one := 1.0
	tr, err := newTracing(Tracing{OTLPEndpoint: "http://127.0.0.1:4318", Sample: &one})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
	r.Header.Set("Tracestate", "vendor=abc")
	x := &filter.Exchange{Request: r}
	tr.begin(x)
	span := x.Span()
	sc := span.SpanContext()
	if span.IsRecording() || sc.IsSampled() || sc.IsRemote() {
		t.Errorf("recording %v, sampled %v, remote %v: want none", span.IsRecording(), sc.IsSampled(), sc.IsRemote())
	}
	if sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || sc.SpanID().String() == "00f067aa0ba902b7" || !sc.SpanID().IsValid() {
		t.Errorf("span context %s/%s: want the client's trace, a new span", sc.TraceID(), sc.SpanID())
	}
	if ts := sc.TraceState().String(); ts != "vendor=abc" {
		t.Errorf("trace state %q, want vendor=abc", ts)
	}
	if span.TracerProvider() != trace.TracerProvider(tr.provider) {
		t.Error("the span's tracer provider is not the gateway's")
	}
	span.End()
	_ = tr.Close()
	if n := len(mem.GetSpans()); n != 0 {
		t.Errorf("exported %d spans", n)
	}
}
