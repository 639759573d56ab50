package observe

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

// An aggregate's backend calls run concurrently on sub-exchanges: each gets
// a client span, child of the client's server span, and attempt metrics
// under its own upstream (not the route's, which has none).
func TestAggregateCallsTracedAndMeasured(t *testing.T) {
	mem := withMemExporter(t)
	backend := func(body string) (*httptest.Server, string) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			if r.Header.Get("Traceparent") == "" {
				http.Error(w, "no traceparent", http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, body)
		}))
		t.Cleanup(srv.Close)
		return srv, strings.TrimPrefix(srv.URL, "http://")
	}
	users, usersHost := backend(`{"id": "u1"}`)
	orders, ordersHost := backend(`{"items": []}`)
	g, base, _ := start(t, `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "127.0.0.1:0" }
observability:
  metrics: { prometheus: true }
  tracing: { otlp_endpoint: "http://127.0.0.1:4318", sample: 1 }
upstreams:
  users:  { targets: [{ url: `+yamlQuote(users.URL)+` }] }
  orders: { targets: [{ url: `+yamlQuote(orders.URL)+` }] }
routes:
  - name: home
    match: { path: "/home/{id}" }
    aggregate:
      calls:
        - { upstream: users, path: "/users/{id}", as: profile }
        - { upstream: orders, path: "/orders/{id}", as: orders }
`)
	const n = 3
	for range n {
		if resp, body := do(t, "GET", base+"/home/1"); resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
	}
	mfs := scrape(t, "http://"+g.AdminAddr().String())
	for up, host := range map[string]string{"users": usersHost, "orders": ordersHost} {
		h := series(t, mfs, "wasmgate_upstream_attempt_duration_seconds", map[string]string{"upstream": up, "target": host}).GetHistogram()
		if h.GetSampleCount() != n {
			t.Errorf("attempts to %s = %d, want %d", up, h.GetSampleCount(), n)
		}
	}
	if err := g.Shutdown(context.Background()); err != nil { // flushes the spans
		t.Fatal(err)
	}
	spans := mem.GetSpans()
	servers := byKind(spans, trace.SpanKindServer)
	clients := byKind(spans, trace.SpanKindClient)
	if len(servers) != n || len(clients) != 2*n {
		t.Fatalf("%d server and %d client spans, want %d and %d", len(servers), len(clients), n, 2*n)
	}
	perServer := map[trace.SpanID]map[string]bool{}
	for _, s := range servers {
		perServer[s.SpanContext.SpanID()] = map[string]bool{}
	}
	for _, c := range clients {
		calls, ok := perServer[c.Parent.SpanID()]
		if !ok || c.Parent.TraceID() != c.SpanContext.TraceID() {
			t.Errorf("client span %s is not a child of a server span", c.Name)
			continue
		}
		up, _ := attr(c.Attributes, "wasmgate.upstream")
		calls[up.AsString()] = true
	}
	for id, calls := range perServer {
		if !calls["users"] || !calls["orders"] {
			t.Errorf("server span %s has client spans for %v, want users and orders", id, calls)
		}
	}
}
