package e2e

import (
	"compress/gzip"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpCollector is an OTLP/HTTP trace endpoint: it decodes every export
// (protobuf, gzip or not) and keeps the spans.
type otlpCollector struct {
	*httptest.Server
	mu    sync.Mutex
	spans []*tracepb.Span
	bad   []string
}

func newOTLPCollector(t *testing.T) *otlpCollector {
	t.Helper()
	c := &otlpCollector{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				c.fail(fmt.Sprintf("gzip: %v", err))
				http.Error(w, err.Error(), 400)
				return
			}
			body = zr
		}
		data, err := io.ReadAll(body)
		var req coltrace.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(data, &req)
		}
		if err != nil || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			c.fail(fmt.Sprintf("%s %s (%s): %v", r.Method, r.URL.Path, r.Header.Get("Content-Type"), err))
			http.Error(w, "bad export", 400)
			return
		}
		c.mu.Lock()
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				c.spans = append(c.spans, ss.GetSpans()...)
			}
		}
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		_, _ = w.Write(out)
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *otlpCollector) fail(msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bad = append(c.bad, msg)
}

func (c *otlpCollector) received() ([]*tracepb.Span, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*tracepb.Span(nil), c.spans...), append([]string(nil), c.bad...)
}

const tracingConfig = head + `
observability:
  tracing: { otlp_endpoint: "{{.otlp}}", sample: 0, service_name: e2e-gw }
upstreams:
  echo: { targets: [{ url: "{{.echo}}" }] }
routes:
  - name: items
    match: { path: "/items/{id}" }
    upstream: echo
`

// Tracing to a real OTLP/HTTP endpoint through the binary: with sampling
// at 0 a new trace is not exported, a sampled parent's is; the server span
// is named after the route template and is the client's traceparent's
// child, the upstream attempt is its child span, and the upstream is sent
// a traceparent of the same trace.
func TestTracingOTLPHTTP(t *testing.T) {
	needBinary(t)
	otlp := newOTLPCollector(t)
	echo := newEcho(t, "echo")
	// The batch processor exports every 5s by default; the SDK's own
	// variable shortens that so the test waits on the export, not a timer.
	g := startGateway(t, tracingConfig, vars{"otlp": otlp.URL, "echo": echo.URL},
		startOptions{Env: []string{"OTEL_BSP_SCHEDULE_DELAY=100"}})

	// Unsampled first: the batch exporter keeps order, so once the sampled
	// trace has arrived, this one would have too.
	resp, body := g.Get("/items/1")
	if s := decodeSeen(t, resp.StatusCode, body); s.Header.Get("Traceparent") == "" {
		t.Errorf("no traceparent sent upstream for an unsampled request")
	}

	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req := newRequest(t, http.MethodGet, g.URL("/items/42"), nil)
	req.Header.Set("Traceparent", "00-"+traceID+"-"+parentID+"-01")
	resp, body = g.Do(req)
	up := decodeSeen(t, resp.StatusCode, body).Header.Get("Traceparent")
	if !strings.HasPrefix(up, "00-"+traceID+"-") || strings.Contains(up, parentID) || !strings.HasSuffix(up, "-01") {
		t.Errorf("upstream traceparent %q, want trace %s, a span of the gateway's, sampled", up, traceID)
	}

	var spans []*tracepb.Span
	if err := poll(30*time.Second, func() error {
		var bad []string
		spans, bad = otlp.received()
		if len(bad) > 0 {
			return fmt.Errorf("bad exports: %v", bad)
		}
		if len(spans) < 2 {
			return fmt.Errorf("%d spans exported so far", len(spans))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var server, client *tracepb.Span
	for _, s := range spans {
		if id := hex.EncodeToString(s.GetTraceId()); id != traceID {
			t.Errorf("span %q of trace %s exported; only the sampled trace %s should be", s.GetName(), id, traceID)
			continue
		}
		switch s.GetKind() {
		case tracepb.Span_SPAN_KIND_SERVER:
			server = s
		case tracepb.Span_SPAN_KIND_CLIENT:
			client = s
		}
	}
	if server == nil || client == nil {
		t.Fatalf("exported spans %v, want a server and a client span", spans)
	}
	if server.GetName() != "GET /items/{id}" || hex.EncodeToString(server.GetParentSpanId()) != parentID {
		t.Errorf("server span %q parent %x, want \"GET /items/{id}\" under the client's %s", server.GetName(), server.GetParentSpanId(), parentID)
	}
	if string(client.GetParentSpanId()) != string(server.GetSpanId()) {
		t.Errorf("client span's parent %x, want the server span %x", client.GetParentSpanId(), server.GetSpanId())
	}
	if !strings.Contains(up, hex.EncodeToString(client.GetSpanId())) {
		t.Errorf("upstream traceparent %q does not carry the client span %x", up, client.GetSpanId())
	}
}
