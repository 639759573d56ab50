package observe

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func tracingConfig(upstreamURL, sample string) string {
	return `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
observability:
  tracing: { otlp_endpoint: "http://127.0.0.1:4318", sample: ` + sample + ` }
upstreams:
  users: { targets: [{ url: ` + yamlQuote(upstreamURL) + ` }] }
routes:
  - { name: user, match: { path: "/users/{id}" }, filters: [observe_test_event: {}], upstream: users }
`
}

func attr(attrs []attribute.KeyValue, key string) (attribute.Value, bool) {
	for _, kv := range attrs {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

func byKind(spans tracetest.SpanStubs, kind trace.SpanKind) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range spans {
		if s.SpanKind == kind {
			out = append(out, s)
		}
	}
	return out
}

// The upstream receives a traceparent naming the exported client span, whose
// parent is the exported server span, itself the child of the client's span.
func TestTraceContextReachesUpstream(t *testing.T) {
	mem := withMemExporter(t)
	up, got := upstream(t)
	g, base, _ := start(t, tracingConfig(up.URL, "1"))

	const clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	const clientSpan = "00f067aa0ba902b7"
	resp, _ := do(t, "GET", base+"/users/42",
		"Traceparent", "00-"+clientTrace+"-"+clientSpan+"-01", "Tracestate", "vendor=abc", "Baggage", "tenant=acme")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	hdr := got.last()
	_ = g.Shutdown(context.Background()) // flushes the batch
	spans := mem.GetSpans()
	servers, clients := byKind(spans, trace.SpanKindServer), byKind(spans, trace.SpanKindClient)
	if len(servers) != 1 || len(clients) != 1 {
		t.Fatalf("exported %d server and %d client spans, want 1 and 1", len(servers), len(clients))
	}
	server, client := servers[0], clients[0]

	want := fmt.Sprintf("00-%s-%s-01", client.SpanContext.TraceID(), client.SpanContext.SpanID())
	if tp := hdr.Get("Traceparent"); tp != want {
		t.Errorf("upstream got traceparent %q, want the client span's %q", tp, want)
	}
	if ts := hdr.Get("Tracestate"); ts != "vendor=abc" {
		t.Errorf("upstream got tracestate %q, want vendor=abc", ts)
	}
	if b := hdr.Get("Baggage"); b != "tenant=acme" {
		t.Errorf("upstream got baggage %q, want tenant=acme", b)
	}
	if client.Parent.SpanID() != server.SpanContext.SpanID() {
		t.Errorf("client span's parent is %s, want the server span %s", client.Parent.SpanID(), server.SpanContext.SpanID())
	}
	if server.SpanContext.TraceID().String() != clientTrace || server.Parent.SpanID().String() != clientSpan {
		t.Errorf("server span is in trace %s under %s, want %s under %s",
			server.SpanContext.TraceID(), server.Parent.SpanID(), clientTrace, clientSpan)
	}
	if server.Name != "GET /users/{id}" {
		t.Errorf("server span name %q, want %q", server.Name, "GET /users/{id}")
	}
	if v, _ := attr(server.Attributes, "http.route"); v.AsString() != "/users/{id}" {
		t.Errorf("http.route = %q, want the template /users/{id}", v.AsString())
	}
	if v, _ := attr(server.Attributes, "http.response.status_code"); v.AsInt64() != 200 {
		t.Errorf("server http.response.status_code = %d, want 200", v.AsInt64())
	}
	if v, _ := attr(client.Attributes, "http.response.status_code"); v.AsInt64() != 200 {
		t.Errorf("client http.response.status_code = %d, want 200", v.AsInt64())
	}
	if v, _ := attr(client.Attributes, "url.full"); !strings.HasSuffix(v.AsString(), "/users/42") {
		t.Errorf("client url.full = %q", v.AsString())
	}
}

// At sample 0 nothing is exported, yet the upstream still gets a valid,
// unsampled traceparent, so its own logs can be correlated.
func TestTraceUnsampledStillPropagates(t *testing.T) {
	mem := withMemExporter(t)
	up, got := upstream(t)
	g, base, _ := start(t, tracingConfig(up.URL, "0"))
	do(t, "GET", base+"/users/1")
	tp := got.last().Get("Traceparent")
	_ = g.Shutdown(context.Background())
	if n := len(mem.GetSpans()); n != 0 {
		t.Errorf("exported %d spans at sample 0", n)
	}
	if len(tp) != 55 || !strings.HasPrefix(tp, "00-") || !strings.HasSuffix(tp, "-00") {
		t.Errorf("upstream got traceparent %q, want a valid unsampled one", tp)
	}
}

// Sampling is parent-based: a client's sampled trace is recorded at sample 0.
func TestTraceFollowsSampledParent(t *testing.T) {
	mem := withMemExporter(t)
	up, _ := upstream(t)
	g, base, _ := start(t, tracingConfig(up.URL, "0"))
	do(t, "GET", base+"/users/1", "Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	_ = g.Shutdown(context.Background())
	spans := mem.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("exported %d spans, want the server and the client span", len(spans))
	}
	// The route's filter added an event to the server span.
	server := byKind(spans, trace.SpanKindServer)[0]
	if len(server.Events) != 1 || server.Events[0].Name != "observe_test_event" {
		t.Errorf("server span events %v, want the filter's", server.Events)
	}
}
