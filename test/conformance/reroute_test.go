package conformance

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wasmgate/wasmgate/core/gateway"
	"github.com/wasmgate/wasmgate/internal/testsync"
	_ "github.com/wasmgate/wasmgate/observe"
)

// Route re-selection through a real gateway, with testdata/reroute.wat: its
// plugin configuration says which request header it replaces (or that it
// only calls proxy_clear_route_cache), and it logs the route_name property
// from proxy_on_log. Two recording upstreams say which one the request
// reached.

type recorded struct {
	upstream, host, uri, method string
}

type recorder struct {
	mu   sync.Mutex
	seen []recorded
}

func (rec *recorder) server(t *testing.T, name string) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.seen = append(rec.seen, recorded{name, r.Host, r.RequestURI, r.Method})
		rec.mu.Unlock()
		w.Header().Set("X-Upstream", name)
	}))
	t.Cleanup(s.Close)
	return s
}

func (rec *recorder) last() recorded {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.seen) == 0 {
		return recorded{}
	}
	return rec.seen[len(rec.seen)-1]
}

// logBuffer collects the gateway's log lines (the guest's among them).
type logBuffer = testsync.Buffer

type rerouteCase struct {
	name, rule string
	path       string // the client's request
	method     string
	upstream   string // the upstream that must receive it
	uri        string // what it must receive ("" to skip)
	route      string // the route the host reports: route_name, access log
	status     int
}

func TestRouteReselection(t *testing.T) {
	t.Setenv("WASMGATE_CACHE_DIR", filepath.Join(t.TempDir(), "cache"))
	rec := &recorder{}
	a, b := rec.server(t, "a"), rec.server(t, "b")
	probe, err := filepath.Abs("testdata/reroute.wasm")
	if err != nil {
		t.Fatal(err)
	}
	hwProbe, err := filepath.Abs("testdata/hw_reroute.wasm")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	accessLog := filepath.Join(dir, "access.log")
	cfg := fmt.Sprintf(`
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
observability: { access_log: { format: json, path: %q } }
upstreams:
  a: { targets: [{ url: %q }] }
  b: { targets: [{ url: %q }] }
plugins:
  authority: { source: %[4]q, config: "r:authority=b.example" }
  header:    { source: %[4]q, config: "rx-version=2" }
  path:      { source: %[4]q, config: "r:path=/path/x/../../users/7?q=1" }
  badpath:   { source: %[4]q, config: "r:path=/badpath/%%2e%%2e/users" }
  method:    { source: %[4]q, config: "r:method=POST" }
  clear:     { source: %[4]q, config: "c" }
  other:     { source: %[4]q, config: "rx-other=1" }
  nothing:   { source: %[4]q, config: "n" }
  hwpath:    { source: %[5]q, config: "/hw/x/../../users/8" }
routes:
  - { name: b-host, match: { hosts: [b.example], prefix: /auth }, filters: [{ wasm: nothing }], upstream: b }
  - { name: v2, match: { prefix: /hdr, headers: [{ name: X-Version, value: "2" }] }, upstream: b }
  - { name: users, match: { prefix: /users }, upstream: b }
  - { name: post-only, match: { path: /m, methods: [POST] }, upstream: b }
  - { name: front-authority, match: { prefix: /auth }, filters: [{ wasm: authority }], upstream: a }
  - { name: front-header, match: { prefix: /hdr }, filters: [{ wasm: header }], upstream: a }
  - { name: front-path, match: { prefix: /path }, filters: [{ wasm: path }], upstream: a }
  - { name: front-badpath, match: { prefix: /badpath }, filters: [{ wasm: badpath }], upstream: a }
  - { name: front-method, match: { path: /m, methods: [GET] }, filters: [{ wasm: method }], upstream: a }
  - { name: front-clear, match: { prefix: /clear }, filters: [{ wasm: clear }], upstream: a }
  - { name: front-other, match: { prefix: /other }, filters: [{ wasm: other }], upstream: a }
  - { name: front-hw, match: { prefix: /hw }, filters: [{ wasm: hwpath }], upstream: a }
`, accessLog, a.URL, b.URL, probe, hwProbe)
	file := filepath.Join(dir, "gw.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	g, err := gateway.Start(gateway.Source{File: file}, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = g.Shutdown(t.Context())
		}
	}()
	base := "http://" + g.Addrs()["main"].String()

	cases := []rerouteCase{
		{name: "authority", path: "/auth/x", upstream: "b", uri: "/auth/x", route: "b-host", status: 200,
			rule: "Envoy (context.cc replaceHeaderMapValue): editing request headers clears the route cache; the router forwards on the route chosen again, so a new :authority selects that host's route and its upstream, and its chain runs"},
		{name: "matcher-header", path: "/hdr", upstream: "b", uri: "/hdr", route: "v2", status: 200,
			rule: "Envoy: a header a route matcher reads, set by the filter, selects the route that matches it"},
		{name: "path-canonical", path: "/path/a", upstream: "b", uri: "/users/7?q=1", route: "users", status: 200,
			rule: "Envoy re-matches on the new :path; ours canonicalizes it first (dot segments removed), as for a client's path, so a filter cannot route or forward around normalization"},
		{name: "path-refused", path: "/badpath", status: 400,
			rule: "ours: a filter-set :path that canonicalization refuses (an encoded dot segment) is answered 400, never forwarded"},
		{name: "method", path: "/m", upstream: "b", uri: "/m", method: "POST", route: "post-only", status: 200,
			rule: "Envoy: a new :method re-selects among routes that match by method"},
		{name: "clear-unchanged", path: "/clear", upstream: "a", uri: "/clear", route: "front-clear", status: 200,
			rule: "Envoy: proxy_clear_route_cache with nothing changed selects the same route again"},
		{name: "http-wasm-uri", path: "/hw", upstream: "b", uri: "/users/8", route: "users", status: 200,
			rule: "http-wasm: set_uri is an edit of the path routing reads; the route is chosen again (canonical path) as for Proxy-Wasm"},
		{name: "other-header", path: "/other", upstream: "a", uri: "/other", route: "front-other", status: 200,
			rule: "Envoy: a header no route matcher reads leaves the route as it was"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := rec.last()
			resp, err := http.Get(base + c.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("rule: %s\nstatus %d %s, want %d", c.rule, resp.StatusCode, body, c.status)
			}
			if c.upstream == "" {
				if rec.last() != before {
					t.Fatalf("rule: %s\nan upstream was reached: %+v", c.rule, rec.last())
				}
				return
			}
			got := rec.last()
			method := c.method
			if method == "" {
				method = "GET"
			}
			if got.upstream != c.upstream || got.uri != c.uri || got.method != method {
				t.Errorf("rule: %s\nupstream got %+v, want upstream %s, %s %s", c.rule, got, c.upstream, method, c.uri)
			}
		})
	}

	// What the host reports: route_name (from proxy_on_log) and the access
	// log's route are the route actually used. The access log is complete
	// once the gateway has stopped.
	if err := g.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	stopped = true
	entries := map[string]string{} // path -> route
	f, err := os.ReadFile(accessLog)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(f))
	for sc.Scan() {
		var e struct{ Path, Route string }
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			entries[e.Path] = e.Route
		}
	}
	guestLogs := logs.String()
	for _, c := range cases {
		if c.route == "" {
			continue
		}
		if got := entries[c.path]; got != c.route {
			t.Errorf("%s: access log route %q, want %q (the route used)", c.name, got, c.route)
		}
		if c.name == "http-wasm-uri" {
			continue // this guest logs nothing
		}
		if !strings.Contains(guestLogs, `"msg":"`+c.route+`"`) {
			t.Errorf("%s: no guest log of route_name %q; logs:\n%s", c.name, c.route, guestLogs)
		}
	}
}
