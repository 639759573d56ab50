package observe

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/wasmgate/wasmgate/core/filter"
)

// tracingKey is the tracing config, as JSON: a reload that changes none of
// it keeps the exporter.
type tracingKey struct{ config string }

// tracing is the kept tracer provider: the exporter's batch queue and
// connection survive reloads that keep the tracing config.
type tracing struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	// The root sampler's decision, made here for new traces: always, or
	// when the trace ID's low 63 bits are below bound (as
	// sdktrace.TraceIDRatioBased decides).
	always bool
	bound  uint64
}

// newSpanExporter makes the OTLP exporter; tests swap in an in-memory one.
var newSpanExporter = func(c Tracing) (sdktrace.SpanExporter, error) {
	u, err := url.Parse(c.OTLPEndpoint)
	if err != nil {
		return nil, err
	}
	if c.Protocol == "grpc" {
		return newGRPCExporter(u, c.Headers)
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

// newGRPCExporter exports over OTLP/gRPC to u's host:port (4317 by
// convention): plaintext for http://, TLS with the system roots for https://.
// The connection is made lazily; an unreachable collector costs dropped
// batches, never requests.
func newGRPCExporter(u *url.URL, headers map[string]string) (sdktrace.SpanExporter, error) {
	opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(u.Host)}
	if u.Scheme == "http" {
		opts = append(opts, otlptracegrpc.WithInsecure())
	}
	if len(headers) > 0 {
		opts = append(opts, otlptracegrpc.WithHeaders(headers))
	}
	return otlptracegrpc.New(context.Background(), opts...)
}

func newTracing(c Tracing) (*tracing, error) {
	exp, err := newSpanExporter(c)
	if err != nil {
		return nil, err
	}
	res := resource.NewSchemaless(semconv.ServiceName(c.ServiceName))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(*c.Sample))),
		sdktrace.WithIDGenerator(idGenerator{}),
	)
	t := &tracing{provider: tp, tracer: tp.Tracer("github.com/wasmgate/wasmgate")}
	switch f := *c.Sample; {
	case f >= 1:
		t.always = true
	case f > 0:
		t.bound = uint64(f * (1 << 63))
	}
	return t, nil
}

// sampled is the root sampler's decision for a new trace.
func (t *tracing) sampled(tid trace.TraceID) bool {
	return t.always || binary.BigEndian.Uint64(tid[8:16])>>1 < t.bound
}

// idGenerator is the SDK's random generator, except that a new trace takes
// the ID begin already drew (and sampled on) when it is in the context.
type idGenerator struct{}

type presetTraceID struct{}

func (idGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if tid, ok := ctx.Value(presetTraceID{}).(trace.TraceID); ok && tid.IsValid() {
		return tid, newSpanID()
	}
	return newTraceID(), newSpanID()
}

func (idGenerator) NewSpanID(context.Context, trace.TraceID) trace.SpanID { return newSpanID() }

func newTraceID() (tid trace.TraceID) {
	for !tid.IsValid() {
		binary.NativeEndian.PutUint64(tid[:8], rand.Uint64())
		binary.NativeEndian.PutUint64(tid[8:], rand.Uint64())
	}
	return tid
}

func newSpanID() (sid trace.SpanID) {
	for !sid.IsValid() {
		binary.NativeEndian.PutUint64(sid[:], rand.Uint64())
	}
	return sid
}

// unsampledSpan is the server span of an exchange that is not sampled: what
// the SDK would make (a non-recording span with the same IDs, flags and
// trace state), without its context values and sampler calls.
type unsampledSpan struct {
	noop.Span
	sc trace.SpanContext
	tp trace.TracerProvider
}

func (s *unsampledSpan) SpanContext() trace.SpanContext       { return s.sc }
func (s *unsampledSpan) TracerProvider() trace.TracerProvider { return s.tp }

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
//
// The sampler (parent-based, then by trace ID ratio) is applied here first:
// an exchange it would not sample gets an unsampledSpan, the same span
// context as the SDK would give it, for a fraction of the cost.
func (t *tracing) begin(x *filter.Exchange) {
	r := x.Request
	var psc trace.SpanContext
	if len(r.Header["Traceparent"]) > 0 {
		psc = trace.SpanContextFromContext(traceContext.Extract(context.Background(), requestCarrier(r.Header)))
	}
	var span trace.Span
	switch {
	case psc.IsValid() && !psc.IsSampled():
		span = &unsampledSpan{tp: t.provider, sc: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: psc.TraceID(), SpanID: newSpanID(), TraceFlags: psc.TraceFlags() &^ trace.FlagsSampled,
			TraceState: psc.TraceState(),
		})}
	case psc.IsValid():
		_, span = t.tracer.Start(trace.ContextWithRemoteSpanContext(r.Context(), psc), r.Method, serverKind...)
	case t.always:
		_, span = t.tracer.Start(r.Context(), r.Method, serverKind...)
	default:
		tid := newTraceID()
		if !t.sampled(tid) {
			span = &unsampledSpan{tp: t.provider, sc: trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: tid, SpanID: newSpanID(),
			})}
			break
		}
		// Sampled at a ratio: the SDK's sampler must see the same ID.
		_, span = t.tracer.Start(context.WithValue(r.Context(), presetTraceID{}, tid), r.Method, serverKind...)
	}
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
			semconv.NetworkProtocolVersion(protocolVersion(r)),
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
		if x.AnsweredBy != "" {
			span.SetAttributes(attribute.String("wasmgate.answered_by", x.AnsweredBy))
		}
		if x.RejectedBy != "" {
			span.SetAttributes(attribute.String("wasmgate.rejected_by", x.RejectedBy))
		}
		if code, err := strconv.Atoi(x.GRPCStatus); err == nil && code >= 0 {
			// The current semconv (rpc.response.status_code, by name) and
			// the older numeric one tools still read.
			name := x.GRPCStatus
			if code < len(grpcCodeNames) {
				name = grpcCodeNames[code]
			}
			span.SetAttributes(semconv.RPCResponseStatusCodeKey.String(name), attribute.Int("rpc.grpc.status_code", code))
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
		h["Traceparent"] = traceparent(sc)
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

// protocolVersion is network.protocol.version, "major.minor".
func protocolVersion(r *http.Request) string {
	switch {
	case r.ProtoMajor == 1 && r.ProtoMinor == 1:
		return "1.1"
	case r.ProtoMajor == 2 && r.ProtoMinor == 0:
		return "2.0"
	case r.ProtoMajor == 1 && r.ProtoMinor == 0:
		return "1.0"
	}
	return fmt.Sprintf("%d.%d", r.ProtoMajor, r.ProtoMinor)
}

// traceparent formats sc as a W3C traceparent header (version 00): the
// header's values, the string and its slice in one allocation.
func traceparent(sc trace.SpanContext) []string {
	v := new(struct {
		vv [1]string
		b  [55]byte
	})
	b := &v.b
	copy(b[:3], "00-")
	tid, sid := sc.TraceID(), sc.SpanID()
	hex.Encode(b[3:35], tid[:])
	b[35] = '-'
	hex.Encode(b[36:52], sid[:])
	b[52] = '-'
	f := byte(sc.TraceFlags())
	b[53], b[54] = hexDigits[f>>4], hexDigits[f&0xF]
	v.vv[0] = unsafe.String(&b[0], len(b)) // b is not written again
	return v.vv[:]
}

// grpcCodeNames are gRPC's status code names, by code.
var grpcCodeNames = [...]string{"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
	"UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}
