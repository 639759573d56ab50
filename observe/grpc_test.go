package observe

import (
	"context"
	"encoding/hex"
	"net"
	"strings"
	"sync"
	"testing"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// collector is an in-process OTLP/gRPC trace receiver.
type collector struct {
	coltrace.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []*tracepb.Span
	token []string
}

func (c *collector) Export(ctx context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	md, _ := metadata.FromIncomingContext(ctx)
	c.token = append(c.token, md.Get("x-token")...)
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			c.spans = append(c.spans, ss.Spans...)
		}
	}
	return &coltrace.ExportTraceServiceResponse{}, nil
}

func startCollector(t *testing.T) (*collector, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	srv := grpc.NewServer()
	coltrace.RegisterTraceServiceServer(srv, c)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return c, ln.Addr().String()
}

// tracing.protocol grpc exports over OTLP/gRPC, with the configured headers
// as metadata; the upstream's traceparent belongs to an exported span.
func TestTraceExportOverGRPC(t *testing.T) {
	col, addr := startCollector(t)
	up, got := upstream(t)
	g, base, _ := start(t, `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
observability:
  tracing: { otlp_endpoint: "http://`+addr+`", protocol: grpc, headers: { X-Token: abc } }
upstreams:
  users: { targets: [{ url: `+yamlQuote(up.URL)+` }] }
routes:
  - { name: user, match: { path: "/users/{id}" }, upstream: users }
`)
	if resp, _ := do(t, "GET", base+"/users/1"); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	tp := strings.Split(got.last().Get("Traceparent"), "-")
	if len(tp) != 4 {
		t.Fatalf("upstream got traceparent %q", got.last().Get("Traceparent"))
	}
	if err := g.Shutdown(context.Background()); err != nil { // flushes the batch
		t.Fatal(err)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	var server, client *tracepb.Span
	for _, s := range col.spans {
		switch s.Kind {
		case tracepb.Span_SPAN_KIND_SERVER:
			server = s
		case tracepb.Span_SPAN_KIND_CLIENT:
			client = s
		}
	}
	if server == nil || client == nil {
		t.Fatalf("collector got %d spans, want a server and a client span", len(col.spans))
	}
	if server.Name != "GET /users/{id}" {
		t.Errorf("server span %q", server.Name)
	}
	if hex.EncodeToString(client.TraceId) != tp[1] || hex.EncodeToString(client.SpanId) != tp[2] {
		t.Errorf("upstream traceparent %v is not the exported client span %x/%x", tp, client.TraceId, client.SpanId)
	}
	if hex.EncodeToString(client.ParentSpanId) != hex.EncodeToString(server.SpanId) {
		t.Error("client span is not the server span's child")
	}
	if len(col.token) == 0 || col.token[0] != "abc" {
		t.Errorf("x-token metadata %v, want abc", col.token)
	}
}
