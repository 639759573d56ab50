package gateway

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/router"
)

// rerouteConfig is a native test filter that edits what routing reads, as a
// Wasm filter would, and tags the response and done phases so a test sees
// which chains ran.
type rerouteConfig struct {
	Tag    string `yaml:"tag"`
	Host   string `yaml:"host"`
	Path   string `yaml:"path"`
	Method string `yaml:"method"`
	Header string `yaml:"header"` // name=value, set through RequestHeaderEdited
	Clear  bool   `yaml:"clear"`  // only mark the route stale
	Deny   bool   `yaml:"deny"`   // answer 403 (a guard on the new route)
}

type reroute struct {
	c    rerouteConfig
	done *atomic.Int32
}

var rerouteDone atomic.Int32

func init() {
	filter.Register("test_reroute", func() filter.Config { return new(rerouteConfig) })
}

func (c *rerouteConfig) Build(*filter.BuildContext) (filter.Filter, error) {
	return &reroute{c: *c, done: &rerouteDone}, nil
}

func (f *reroute) OnRequest(x *filter.Exchange) *filter.Response {
	r := x.Request
	r.Header.Add("X-Chain", f.c.Tag)
	if f.c.Deny {
		return filter.Error(http.StatusForbidden, "denied by "+f.c.Tag)
	}
	if f.c.Host != "" {
		r.Host = f.c.Host
		x.ClearRouteCache()
	}
	if f.c.Path != "" {
		r.URL.Path, r.URL.RawPath = f.c.Path, ""
		if p, err := url.PathUnescape(f.c.Path); err == nil && p != f.c.Path {
			r.URL.Path, r.URL.RawPath = p, f.c.Path
		}
		x.ClearRouteCache()
	}
	if f.c.Method != "" {
		r.Method = f.c.Method
		x.ClearRouteCache()
	}
	if k, v, ok := strings.Cut(f.c.Header, "="); ok {
		r.Header.Set(k, v)
		x.RequestHeaderEdited(k)
	}
	if f.c.Clear {
		x.ClearRouteCache()
	}
	return nil
}

func (f *reroute) OnResponse(x *filter.Exchange) *filter.Response {
	x.Response.Header.Add("X-Response-Chain", f.c.Tag)
	return nil
}

func (f *reroute) OnDone(*filter.Exchange) { f.done.Add(1) }

// recorder is an upstream that names itself and echoes what it received.
func recorder(t *testing.T, name string, hits *atomic.Int32) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits != nil {
			hits.Add(1)
		}
		w.Header().Set("X-Upstream", name)
		w.Header().Set("X-Seen-Chain", strings.Join(r.Header.Values("X-Chain"), ","))
		fmt.Fprintf(w, "%s %s %s", r.Method, r.Host, r.URL.RequestURI())
	}))
	t.Cleanup(s.Close)
	return s
}

func startRerouteGateway(t *testing.T, a, b, routes string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "gw.yaml")
	cfg := fmt.Sprintf(`
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
upstreams:
  a: { targets: [{ url: %q }] }
  b: { targets: [{ url: %q }] }
routes:
%s
`, a, b, routes)
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	_, u := startGateway(t, file)
	return u
}

// Envoy's clearRouteCache: a filter that changes the request's host makes
// the router choose again; the request is the new route's from then on: the
// rest of the first chain is skipped, the new route's chain runs, its
// target gets the request, and the response phase runs over the filters
// that ran, the new chain's first.
func TestRerouteByHost(t *testing.T) {
	a, b := recorder(t, "a", nil), recorder(t, "b", nil)
	url := startRerouteGateway(t, a.URL, b.URL, `
  - { name: b, match: { hosts: [b.example], path: "/{rest...}" }, filters: [{ test_reroute: { tag: b } }], upstream: b,
      rewrite: { path: "/b-side/{rest}" }, preserve_host: true }
  - { name: front, match: { prefix: / }, filters: [{ test_reroute: { tag: front, host: b.example } }, { test_reroute: { tag: front-after } }], upstream: a }`)
	resp, body := get(t, url+"/x?q=1")
	if resp == nil {
		t.FailNow()
	}
	if got := resp.Header.Get("X-Upstream"); got != "b" {
		t.Fatalf("upstream %q answered, want b (the re-selected route's); body %q", got, body)
	}
	if got := resp.Header.Get("X-Seen-Chain"); got != "front,b" {
		t.Errorf("upstream saw chains %q, want front,b: the request is b's once moved, so front's later filters do not run", got)
	}
	if body != "GET b.example /b-side/x?q=1" {
		t.Errorf("upstream got %q, want the new route's rewrite and preserve_host applied", body)
	}
	if got := strings.Join(resp.Header.Values("X-Response-Chain"), ","); got != "b,front" {
		t.Errorf("response phase ran %q, want b,front (last chain first)", got)
	}
}

// A request reaches a route's target only after that route's whole chain:
// a filter elsewhere cannot route around the guard of the route it sends the
// request to, nor around path canonicalization.
func TestRerouteRunsNewRoutesGuard(t *testing.T) {
	var aHits, bHits atomic.Int32
	a, b := recorder(t, "a", &aHits), recorder(t, "b", &bHits)
	url := startRerouteGateway(t, a.URL, b.URL, `
  - { name: admin, match: { prefix: /admin }, filters: [{ test_reroute: { tag: guard, deny: true } }], upstream: b }
  - { name: public, match: { prefix: /public }, filters: [{ test_reroute: { tag: public, path: /public/../admin/users } }], upstream: a }`)
	resp, body := get(t, url+"/public/x")
	if resp == nil {
		t.FailNow()
	}
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "denied by guard") {
		t.Fatalf("status %d %q: the admin route's guard must run on a request moved to it", resp.StatusCode, body)
	}
	if aHits.Load()+bHits.Load() != 0 {
		t.Errorf("an upstream was reached (a %d, b %d)", aHits.Load(), bHits.Load())
	}
}

func TestReroutePathIsCanonicalized(t *testing.T) {
	a, b := recorder(t, "a", nil), recorder(t, "b", nil)
	url := startRerouteGateway(t, a.URL, b.URL, `
  - { name: users, match: { prefix: /users }, upstream: b }
  - { name: dots, match: { prefix: /dots }, filters: [{ test_reroute: { tag: t, path: "/dots/x/../../users/./7" } }], upstream: a }
  - { name: bad, match: { prefix: /bad }, filters: [{ test_reroute: { tag: t, path: "/bad/%2e%2e/users" } }], upstream: a }`)
	resp, body := get(t, url+"/dots")
	if resp == nil || resp.Header.Get("X-Upstream") != "b" || body != "GET "+strings.TrimPrefix(b.URL, "http://")+" /users/7" {
		t.Fatalf("got %v %q, want upstream b to receive /users/7", resp.Header, body)
	}
	resp, body = get(t, url+"/bad")
	if resp == nil || resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "invalid request path after filters") {
		t.Fatalf("a filter-set path with an encoded dot segment: %d %q, want 400", resp.StatusCode, body)
	}
}

// A header a route matcher reads re-selects the route; the new route's
// retries (its settings, not the first route's) apply.
func TestRerouteByMatcherHeaderUsesNewRoutesRetries(t *testing.T) {
	var calls atomic.Int32
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("X-Upstream", "flaky")
	}))
	t.Cleanup(flaky.Close)
	a := recorder(t, "a", nil)
	url := startRerouteGateway(t, a.URL, flaky.URL, `
  - { name: v2, match: { prefix: /, headers: [{ name: X-Version, value: "2" }] }, upstream: b,
      retries: { attempts: 2, on: ["503"] } }
  - { name: v1, match: { prefix: / }, filters: [{ test_reroute: { tag: t, header: x-version=2 } }], upstream: a,
      retries: { attempts: 1 } }`)
	resp, _ := get(t, url+"/")
	if resp == nil || resp.StatusCode != 200 || resp.Header.Get("X-Upstream") != "flaky" {
		t.Fatalf("got %v, want v2's upstream, retried once after its 503", resp)
	}
	if calls.Load() != 2 {
		t.Errorf("v2's upstream got %d attempts, want 2 (v2's retry policy)", calls.Load())
	}
}

func TestRerouteNoRouteAndLoop(t *testing.T) {
	a, b := recorder(t, "a", nil), recorder(t, "b", nil)
	url := startRerouteGateway(t, a.URL, b.URL, `
  - { name: ping, match: { prefix: /ping }, filters: [{ test_reroute: { tag: ping, path: /pong } }], upstream: a }
  - { name: pong, match: { prefix: /pong }, filters: [{ test_reroute: { tag: pong, path: /ping } }], upstream: b }
  - { name: lost, match: { prefix: /lost }, filters: [{ test_reroute: { tag: lost, path: /nowhere } }], upstream: a }
  - { name: same, match: { prefix: /same }, filters: [{ test_reroute: { tag: same, clear: true } }, { test_reroute: { tag: next } }], upstream: a }`)
	before := rerouteDone.Load()
	resp, body := get(t, url+"/ping")
	if resp == nil || resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, "changed route more than") {
		t.Fatalf("ping-pong: %v %q, want 500", resp, body)
	}
	if got := rerouteDone.Load() - before; got != maxRouteChanges+1 {
		t.Errorf("done ran for %d filters, want %d (every chain that ran)", got, maxRouteChanges+1)
	}
	resp, body = get(t, url+"/lost")
	if resp == nil || resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "no route matches GET /nowhere") {
		t.Fatalf("no route after the change: %v %q, want 404", resp, body)
	}
	resp, _ = get(t, url+"/same")
	if resp == nil || resp.StatusCode != 200 || resp.Header.Get("X-Seen-Chain") != "same,next" {
		t.Fatalf("clearing the cache without a change must keep the route and run its chain once, on to its end: %v", resp)
	}
}

// BenchmarkReselection measures the request path (ServeHTTP, a respond:
// target, no network) with a filter that does what the name says, so the
// cost of route re-selection shows against Untouched in the same run: a
// filter that edits no routing input pays one flag load; a header no
// matcher reads, one short name scan; an edit that keeps the route, a new
// match of the table; a move, the new route's chain too.
func BenchmarkReselection(b *testing.B) {
	file := filepath.Join(b.TempDir(), "gw.yaml")
	cfg := `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
routes:
  - { name: v2, match: { prefix: /, headers: [{ name: X-Version, value: "2" }] }, respond: { status: 200 } }
  - { name: moved, match: { hosts: [moved.example], prefix: / }, respond: { status: 200 } }
  - { name: untouched, match: { path: /untouched }, filters: [{ test_reroute: { tag: t } }], respond: { status: 200 } }
  - { name: other, match: { path: /other }, filters: [{ test_reroute: { tag: t, header: x-other=1 } }], respond: { status: 200 } }
  - { name: same, match: { path: /same }, filters: [{ test_reroute: { tag: t, clear: true } }], respond: { status: 200 } }
  - { name: move, match: { path: /move }, filters: [{ test_reroute: { tag: t, host: moved.example } }], respond: { status: 200 } }
`
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	g, err := Start(Source{File: file}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer g.Shutdown(b.Context())
	for _, name := range []string{"untouched", "other", "same", "move"} {
		b.Run(name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "http://api.example/"+name, nil)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				r.Host, r.URL.Path = "api.example", "/"+name
				clear(r.Header)
				clear(w.h)
				g.ServeHTTP(w, r)
				if w.code != 200 {
					b.Fatalf("status %d", w.code)
				}
			}
		})
	}
}

type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// BenchmarkReselect is the cost of choosing the route again when a filter
// marked it stale but changed nothing that matters: canonical checks and one
// table match, against the same snapshot.
func BenchmarkReselect(b *testing.B) {
	file := filepath.Join(b.TempDir(), "gw.yaml")
	cfg := `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
routes:
  - { name: v2, match: { prefix: /, headers: [{ name: X-Version, value: "2" }] }, respond: { status: 200 } }
  - { name: users, match: { path: "/users/{id}" }, respond: { status: 200 } }
`
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	g, err := Start(Source{File: file}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer g.Shutdown(b.Context())
	s := g.acquire()
	defer s.release()
	x := &filter.Exchange{Request: httptest.NewRequest("GET", "http://api.example/users/7", nil), Params: make([]router.Param, 0, 4)}
	b.ReportAllocs()
	for b.Loop() {
		if rt, resp := s.reselect(x); rt == nil || resp != nil {
			b.Fatal("no route")
		}
	}
}
