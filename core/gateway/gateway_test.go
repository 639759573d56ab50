package gateway

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/filter"
	_ "github.com/wasmgate/wasmgate/filters/headers"
)

// probe is a test filter: it counts closes, and can hold a request inside
// the chain until released, to test snapshot lifecycle under reload.
type probeConfig struct {
	Tag string `yaml:"tag"`
}

type probe struct {
	tag    string
	closed *atomic.Int32
	set    *probeSet
}

// probeSet is what a test observes of its probe filters. Each test takes a
// fresh one (newProbes); filters keep the set they were built with, so a
// run with -count=N never sees an earlier run's filters.
type probeSet struct {
	counts  sync.Map // tag -> *atomic.Int32: Close calls
	entered chan string
	release chan struct{}
	closed  chan string
}

var probes atomic.Pointer[probeSet]

func newProbes() *probeSet {
	ps := &probeSet{entered: make(chan string, 16), release: make(chan struct{}), closed: make(chan string, 16)}
	probes.Store(ps)
	return ps
}

func init() { newProbes() }

func init() {
	filter.Register("test_probe", func() filter.Config { return new(probeConfig) })
}

func (c *probeConfig) Build(*filter.BuildContext) (filter.Filter, error) {
	ps := probes.Load()
	n, _ := ps.counts.LoadOrStore(c.Tag, new(atomic.Int32))
	return &probe{tag: c.Tag, closed: n.(*atomic.Int32), set: ps}, nil
}

func (p *probe) OnRequest(x *filter.Exchange) *filter.Response {
	if x.Request.Header.Get("X-Hold") != "" {
		p.set.entered <- p.tag
		<-p.set.release
	}
	x.Request.Header.Set("X-Probe", p.tag)
	return nil
}

func (p *probe) Close() error {
	p.closed.Add(1)
	p.set.closed <- p.tag
	return nil
}

func (ps *probeSet) closes(tag string) int32 {
	n, ok := ps.counts.Load(tag)
	if !ok {
		return 0
	}
	return n.(*atomic.Int32).Load()
}

func echoUpstream(t testing.TB) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Probe-Seen", r.Header.Get("X-Probe"))
		fmt.Fprintf(w, "%s %s", r.Method, r.URL.RequestURI())
	}))
	t.Cleanup(s.Close)
	return s
}

func writeConfig(t *testing.T, path, upstream, tag string) {
	t.Helper()
	cfg := fmt.Sprintf(`
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
upstreams:
  echo: { targets: [{ url: %q }] }
routes:
  - name: r
    match: { prefix: / }
    filters:
      - test_probe: { tag: %q }
    upstream: echo
`, upstream, tag)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

func startGateway(t *testing.T, file string) (*Gateway, string) {
	t.Helper()
	g, err := Start(Source{File: file}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Shutdown(t.Context()) })
	return g, "http://" + g.Addrs()["main"].String()
}

func get(t *testing.T, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return nil, ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// A reload swaps the snapshot for new requests, lets in-flight ones finish on
// the old one, and closes the old snapshot's filters only after that.
func TestReloadRetiresSnapshotAfterInFlightRequests(t *testing.T) {
	ps := newProbes()
	up := echoUpstream(t)
	file := filepath.Join(t.TempDir(), "gw.yaml")
	writeConfig(t, file, up.URL, "v1")
	g, base := startGateway(t, file)
	oldUpstream := g.Current().upstreams["echo"]

	held := make(chan string, 1)
	go func() {
		resp, _ := get(t, base+"/held", "X-Hold", "1")
		if resp != nil {
			held <- resp.Header.Get("X-Probe-Seen")
		}
	}()
	if tag := <-ps.entered; tag != "v1" {
		t.Fatalf("held request entered filter %q, want v1", tag)
	}

	writeConfig(t, file, up.URL, "v2")
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(t, base+"/new"); resp == nil || resp.Header.Get("X-Probe-Seen") != "v2" {
		t.Fatalf("a request after reload must run the new chain")
	}
	if n := ps.closes("v1"); n != 0 {
		t.Fatalf("old filters closed %d times while a request still runs on them", n)
	}
	if g.Current().upstreams["echo"] != oldUpstream {
		t.Error("an upstream whose config did not change must be carried over, keeping its pool")
	}

	close(ps.release)
	if tag := <-held; tag != "v1" {
		t.Errorf("the in-flight request finished on %q, want the snapshot it started with (v1)", tag)
	}
	// The held request's handler releases the old snapshot after the
	// response is written, so the close follows the response.
	select {
	case tag := <-ps.closed:
		if tag != "v1" {
			t.Fatalf("closed %q, want the old snapshot's v1", tag)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the old snapshot was never closed after its last request")
	}
	if ps.closes("v2") != 0 {
		t.Error("the live snapshot's filters must stay open")
	}
}

func TestBadReloadChangesNothing(t *testing.T) {
	up := echoUpstream(t)
	file := filepath.Join(t.TempDir(), "gw.yaml")
	writeConfig(t, file, up.URL, "good")
	g, base := startGateway(t, file)
	gen := g.Current().Generation

	bad := strings.ReplaceAll(mustRead(t, file), "upstream: echo", "upstream: nowhere")
	if err := os.WriteFile(file, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	err := g.Reload()
	if err == nil {
		t.Fatal("a config naming an unknown upstream must be rejected")
	}
	if want := file + `:11:5: routes[0].upstream: unknown upstream "nowhere"; valid upstreams: echo`; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not point at %s", err, want)
	}
	if g.Current().Generation != gen {
		t.Error("a rejected reload must not change the running snapshot")
	}
	if resp, body := get(t, base+"/still"); resp == nil || resp.StatusCode != 200 || body != "GET /still" {
		t.Errorf("old config must keep serving, got %v %q", resp, body)
	}
}

func TestValidateReportsFilterErrorsWithLines(t *testing.T) {
	file := filepath.Join(t.TempDir(), "gw.yaml")
	cfg := `listeners: [{ address: "127.0.0.1:0" }]
upstreams:
  u: { targets: [{ url: "http://127.0.0.1:1" }] }
routes:
  - name: r
    match: { path: "/users/{id}" }
    filters:
      - headers:
          request:
            set: { X-A: "{nope}" }
      - nosuchfilter: {}
    upstream: u
`
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Validate(Source{File: file}, slog.New(slog.DiscardHandler))
	if err == nil {
		t.Fatal("validate must fail")
	}
	for _, want := range []string{
		file + `:10:20: routes[0].filters[0].headers.request.set["X-A"]: unknown placeholder {nope}; valid: a route parameter (id)`,
		file + `:11:9: routes[0].filters[1]: unknown filter "nosuchfilter"; valid: chain, headers`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors:\n%v\nlack:\n%s", err, want)
		}
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A CORS preflight to a route that serves GET only is answered by the
// route's cors filter, not refused with 405 before the chain runs; an
// OPTIONS that is not a preflight is still a 405.
func TestPreflightReachesTheRoutesFilters(t *testing.T) {
	file := filepath.Join(t.TempDir(), "gw.yaml")
	cfg := `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
routes:
  - name: api
    match: { path: /api, methods: [GET] }
    filters:
      - test_preflight: {}
    respond: { body: ok }
`
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	_, base := startGateway(t, file)
	do := func(hdr ...string) *http.Response {
		req, _ := http.NewRequest("OPTIONS", base+"/api", nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := do("Origin", "https://app.test", "Access-Control-Request-Method", "GET")
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.test" {
		t.Errorf("preflight: %d %v; want the filter's 204", resp.StatusCode, resp.Header)
	}
	if resp := do(); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET" {
		t.Errorf("plain OPTIONS: %d Allow %q; want 405 Allow GET", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// preflightFilter answers preflights as a cors filter would (the real one
// lives in filters/, which core/ tests do not import).
type preflightFilter struct{}

func (preflightFilter) Build(*filter.BuildContext) (filter.Filter, error) {
	return preflightFilter{}, nil
}

func (preflightFilter) OnRequest(x *filter.Exchange) *filter.Response {
	r := x.Request
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		return nil
	}
	return &filter.Response{Status: http.StatusNoContent, Local: true, Header: http.Header{
		"Access-Control-Allow-Origin": {r.Header.Get("Origin")},
	}}
}

func init() {
	filter.Register("test_preflight", func() filter.Config { return &preflightFilter{} })
}
