package observe

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
)

// tracing is the kept tracer provider: the exporter's batch queue and
// connection survive reloads that keep the tracing config.
type tracing struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
}

// newSpanExporter makes the OTLP exporter; tests swap in an in-memory one.
var newSpanExporter = func(c config.Tracing) (sdktrace.SpanExporter, error) {
	if c.Protocol == "grpc" {
		return nil, fmt.Errorf("protocol grpc needs the OTLP/gRPC exporter, which this build does not include; use protocol: http (port 4318)")
	}
	u, err := url.Parse(c.OTLPEndpoint)
	if err != nil {
		return nil, err
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(u.Host)}
	if u.Scheme == "http" {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	if p := strings.TrimSuffix(u.Path, "/"); p != "" {
		opts = append(opts, otlptracehttp.WithURLPath(p))
	}
	if len(c.Headers) > 0 {
		opts = append(opts, otlptracehttp.WithHeaders(c.Headers))
	}
	return otlptracehttp.New(context.Background(), opts...)
}

func newTracing(c config.Tracing) (*tracing, error) {
	exp, err := newSpanExporter(c)
	if err != nil {
		return nil, err
	}
	res := resource.NewSchemaless(semconv.ServiceName(c.ServiceName))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(*c.Sample))),
	)
	return &tracing{provider: tp, tracer: tp.Tracer("github.com/wasmgate/wasmgate")}, nil
}

// Close flushes queued spans and stops the exporter.
func (t *tracing) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return t.provider.Shutdown(ctx)
}

var (
	serverKind = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}
	clientKind = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}
	// W3C trace context only: baggage (and anything else) in the client's
	// headers reaches the upstream unchanged, as the proxy forwards them.
	traceContext = propagation.TraceContext{}
)

// requestCarrier reads the trace headers straight from the header map:
// http.Header.Get would canonicalize "traceparent" into a new string.
type requestCarrier http.Header

func (c requestCarrier) Get(key string) string {
	var vv []string
	switch key {
	case "traceparent":
		vv = c["Traceparent"]
	case "tracestate":
		vv = c["Tracestate"]
	default:
		vv = http.Header(c).Values(key)
	}
	if len(vv) == 0 {
		return ""
	}
	return vv[0]
}
func (c requestCarrier) Set(string, string) {}
func (c requestCarrier) Keys() []string     { return nil }

// begin starts the server span, a child of the client's trace context if it
// sent one. Attributes are set only on spans that are recorded.
func (t *tracing) begin(x *filter.Exchange) {
	r := x.Request
	ctx := traceContext.Extract(r.Context(), requestCarrier(r.Header))
	_, span := t.tracer.Start(ctx, r.Method, serverKind...)
	x.SetSpan(span)
	if span.IsRecording() {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		span.SetAttributes(
			semconv.HTTPRequestMethodKey.String(r.Method),
			semconv.URLPath(r.URL.Path),
			semconv.URLScheme(scheme),
			semconv.ServerAddress(r.Host),
			semconv.ClientAddress(x.ClientIP.String()),
			semconv.NetworkProtocolVersion(fmt.Sprintf("%d.%d", r.ProtoMajor, r.ProtoMinor)),
			semconv.UserAgentOriginal(r.UserAgent()),
		)
		if x.RequestID != "" {
			span.SetAttributes(attribute.String("request.id", x.RequestID))
		}
	}
}

// end names the server span after the route template and ends it.
func (t *tracing) end(x *filter.Exchange, ro *routeObs) {
	span := x.Span()
	if span.IsRecording() {
		if ro != nil {
			span.SetName(ro.spanNames[methodIndex(x.Request.Method)])
			span.SetAttributes(semconv.HTTPRoute(ro.template), attribute.String("wasmgate.route", ro.name))
		}
		span.SetAttributes(
			semconv.HTTPResponseStatusCode(x.Status),
			semconv.HTTPRequestBodySize(int(x.BytesIn)),
			semconv.HTTPResponseBodySize(int(x.BytesOut)),
		)
		if x.Consumer != nil {
			span.SetAttributes(attribute.String("wasmgate.consumer", x.Consumer.Name))
		}
		if x.RejectedBy != "" {
			span.SetAttributes(attribute.String("wasmgate.rejected_by", x.RejectedBy))
		}
		if x.Status >= 500 {
			span.SetStatus(codes.Error, "")
			span.SetAttributes(semconv.ErrorTypeKey.String(fmt.Sprint(x.Status)))
		}
	}
	span.End()
}

// attemptStart starts the attempt's client span and sends its context to the
// upstream. When the server span is not sampled, no client span is made:
// the server span's context (sampled=0) is passed on instead, which costs
// nothing and tells the upstream the same.
func (t *tracing) attemptStart(x *filter.Exchange, a *filter.Attempt) {
	parent := x.Span()
	sc := parent.SpanContext()
	if parent.IsRecording() {
		ctx := trace.ContextWithSpan(a.Request.Context(), parent)
		_, span := t.tracer.Start(ctx, a.Request.Method, clientKind...)
		a.Span = span
		sc = span.SpanContext()
		if span.IsRecording() {
			span.SetAttributes(
				semconv.HTTPRequestMethodKey.String(a.Request.Method),
				semconv.ServerAddress(a.Request.URL.Hostname()),
				semconv.URLFull(a.Request.URL.String()),
				attribute.String("wasmgate.upstream", a.Upstream),
				attribute.Int("http.request.resend_count", a.N-1),
			)
		}
	}
	if sc.IsValid() {
		h := a.Request.Header
		h["Traceparent"] = []string{traceparent(sc)}
		if ts := sc.TraceState(); ts.Len() > 0 {
			h["Tracestate"] = []string{ts.String()}
		} else {
			delete(h, "Tracestate")
		}
	}
}

func (t *tracing) attemptEnd(a *filter.Attempt) {
	span := a.Span
	if span == nil {
		return
	}
	if a.Status != 0 {
		span.SetAttributes(semconv.HTTPResponseStatusCode(a.Status))
	}
	switch {
	case a.ErrorType != "":
		span.SetStatus(codes.Error, a.ErrorType)
		span.SetAttributes(semconv.ErrorTypeKey.String(a.ErrorType))
	case a.Status >= 400:
		span.SetStatus(codes.Error, "")
		span.SetAttributes(semconv.ErrorTypeKey.String(fmt.Sprint(a.Status)))
	}
	span.End()
}

// traceparent formats sc as a W3C traceparent header (version 00).
func traceparent(sc trace.SpanContext) string {
	var b [55]byte
	copy(b[:3], "00-")
	tid, sid := sc.TraceID(), sc.SpanID()
	hex.Encode(b[3:35], tid[:])
	b[35] = '-'
	hex.Encode(b[36:52], sid[:])
	b[52] = '-'
	hex.Encode(b[53:55], []byte{byte(sc.TraceFlags())})
	return string(b[:])
}
