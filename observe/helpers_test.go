package observe

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/gateway"
	"github.com/wasmgate/wasmgate/internal/gwtest"
)

// deny is a test filter that refuses every request with 403.
type denyConfig struct{}

type deny struct{}

func init() {
	filter.Register("observe_test_deny", func() filter.Config { return new(denyConfig) })
	filter.Register("observe_test_event", func() filter.Config { return new(eventConfig) })
}

// event is a test filter that adds an event to the server span.
type eventConfig struct{}

type event struct{}

func (*eventConfig) Build(*filter.BuildContext) (filter.Filter, error) { return event{}, nil }

func (event) OnRequest(x *filter.Exchange) *filter.Response {
	x.Span().AddEvent("observe_test_event")
	return nil
}

func (*denyConfig) Build(*filter.BuildContext) (filter.Filter, error) { return deny{}, nil }

func (deny) OnRequest(*filter.Exchange) *filter.Response {
	return filter.Error(http.StatusForbidden, "denied")
}

// seen is what the test upstream received.
type seen struct {
	mu      sync.Mutex
	headers []http.Header
}

func (s *seen) last() http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.headers) == 0 {
		return nil
	}
	return s.headers[len(s.headers)-1]
}

// upstream answers "hello" (5 bytes) and records the headers it got.
func upstream(t testing.TB) (*httptest.Server, *seen) {
	t.Helper()
	s := &seen{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.headers = append(s.headers, r.Header.Clone())
		s.mu.Unlock()
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "hello")
	}))
	t.Cleanup(srv.Close)
	return srv, s
}

// start runs a gateway on cfg (YAML) written to a file in a temp dir, so
// tests can rewrite it and reload.
func start(t testing.TB, cfg string) (g *gateway.Gateway, base, file string) {
	t.Helper()
	return gwtest.Serve(t, cfg)
}

func do(t testing.TB, method, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// memExporter keeps spans through the provider's Shutdown (the SDK's
// in-memory exporter forgets them then), so a test can shut the gateway down
// to flush, then look.
type memExporter struct{ *tracetest.InMemoryExporter }

func (memExporter) Shutdown(context.Context) error { return nil }

// withMemExporter routes the tracing exporter to memory for one test.
func withMemExporter(t *testing.T) *tracetest.InMemoryExporter {
	mem := tracetest.NewInMemoryExporter()
	prev := newSpanExporter
	newSpanExporter = func(Tracing) (sdktrace.SpanExporter, error) { return memExporter{mem}, nil }
	t.Cleanup(func() { newSpanExporter = prev })
	return mem
}

func yamlQuote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }
