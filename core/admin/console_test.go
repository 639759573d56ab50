package admin

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/core/filter"
)

// trafficBackend keeps a history of one route, r1.
type trafficBackend struct{ observedBackend }

func (b *trafficBackend) Traffic(route string) (Traffic, bool) {
	t := Traffic{IntervalSeconds: 2, Total: Series{Time: []int64{1, 3}, RPS: []float64{0, 5}}, Routes: []RouteTraffic{{Name: "r1", RPS: 5}}}
	switch route {
	case "":
	case "r1":
		t.Route, t.Series = route, &Series{Time: []int64{1, 3}, RPS: []float64{0, 5}}
	default:
		return Traffic{}, false
	}
	return t, true
}

// serve sends one request through the admin handler under policy p.
func serve(t *testing.T, b Backend, p *Policy, method, target, token string) *httptest.ResponseRecorder {
	t.Helper()
	h := handler(b, func() *Policy { return p }, slog.New(slog.DiscardHandler))
	req := httptest.NewRequest(method, target, nil)
	req.Host = "127.0.0.1:9901"
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestTrafficEndpoint(t *testing.T) {
	b := &trafficBackend{}
	p := open(t)
	w := serve(t, b, p, "GET", "/traffic", "")
	var got Traffic
	if err := json.Unmarshal(w.Body.Bytes(), &got); w.Code != 200 || err != nil || len(got.Routes) != 1 || got.Series != nil {
		t.Fatalf("GET /traffic: %d %v %s", w.Code, err, w.Body)
	}
	w = serve(t, b, p, "GET", "/traffic?route=r1", "")
	if err := json.Unmarshal(w.Body.Bytes(), &got); w.Code != 200 || err != nil || got.Series == nil || got.Series.RPS[1] != 5 {
		t.Fatalf("GET /traffic?route=r1: %d %v %s", w.Code, err, w.Body)
	}
	w = serve(t, b, p, "GET", "/traffic?route=nope", "")
	if w.Code != 404 || !strings.Contains(w.Body.String(), `no route named \"nope\"`) {
		t.Fatalf("unknown route: %d %s", w.Code, w.Body)
	}
	if w := serve(t, &fakeBackend{}, p, "GET", "/traffic", ""); w.Code != 404 || !strings.Contains(w.Body.String(), "no traffic history") {
		t.Fatalf("backend without history: %d %s", w.Code, w.Body)
	}
	if got := strings.Join(b.got, "|"); got != "traffic OK|traffic OK|traffic Not Found" {
		t.Errorf("observed %s", got)
	}
}

// The console's files are served without a token (they are the same in
// every binary); everything they read still needs one.
func TestConsoleFilesNeedNoTokenButTheAPIDoes(t *testing.T) {
	b := &trafficBackend{}
	p := tokenPolicy(t, "tok-0123456789")
	w := serve(t, b, p, "GET", "/ui/", "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), "<title>wasmgate console</title>") {
		t.Fatalf("GET /ui/: %d %.200s", w.Code, w.Body)
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	for path, ctype := range map[string]string{"/ui/app.js": "text/javascript", "/ui/app.css": "text/css"} {
		w := serve(t, b, p, "GET", path, "")
		if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), ctype) {
			t.Errorf("GET %s: %d %q", path, w.Code, w.Header().Get("Content-Type"))
		}
	}
	if w := serve(t, b, p, "GET", "/ui", ""); w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != "/ui/" {
		t.Errorf("GET /ui: %d %q", w.Code, w.Header().Get("Location"))
	}
	for _, path := range []string{"/status", "/traffic", "/ui/../status", "/ui/%2e%2e/routes"} {
		if w := serve(t, b, p, "GET", path, ""); w.Code != http.StatusUnauthorized {
			t.Errorf("GET %s without a token: %d, want 401", path, w.Code)
		}
	}
	if w := serve(t, b, p, "GET", "/status", "tok-0123456789"); w.Code != 200 {
		t.Errorf("GET /status with the token: %d", w.Code)
	}
	// A cross-site page still cannot load it.
	h := handler(b, func() *Policy { return p }, slog.New(slog.DiscardHandler))
	req := httptest.NewRequest("GET", "/ui/", nil)
	req.Host = "127.0.0.1:9901"
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Errorf("cross-site GET /ui/: %d, want 403", rec.Code)
	}
}

// GET / lists every endpoint being served, the metrics path and the
// console included.
func TestIndexListsEveryEndpoint(t *testing.T) {
	b := &trafficBackend{}
	b.pprof.Store(true)
	w := serve(t, b, open(t), "GET", "/", "")
	var got struct{ Endpoints []string }
	if err := json.Unmarshal(w.Body.Bytes(), &got); w.Code != 200 || err != nil {
		t.Fatalf("GET /: %d %v %s", w.Code, err, w.Body)
	}
	want := "GET /ui/|GET /healthz|GET /readyz|GET /status|GET /config|GET /routes|GET /upstreams|GET /traffic|GET /plugins|GET /m|GET /debug/pprof/|POST /reload"
	if s := strings.Join(got.Endpoints, "|"); s != want {
		t.Errorf("endpoints\n got %s\nwant %s", s, want)
	}
	if w := serve(t, &fakeBackend{}, open(t), "GET", "/", ""); !strings.Contains(w.Body.String(), `"GET /ui/"`) || strings.Contains(w.Body.String(), "/traffic") {
		t.Errorf("a backend without metrics, profiles or history: %s", w.Body)
	}
}

// pluginBackend runs one plugin and has refused requests.
type pluginBackend struct{ fakeBackend }

func (*pluginBackend) Plugins() []filter.PluginStatus {
	return []filter.PluginStatus{{Name: "p", Kind: "wasm", Routes: []string{"r1"}, Instances: 2, Traps: 1, MemoryBytes: 1 << 20}}
}

func (*pluginBackend) Refusals() Refusals {
	return Refusals{Auth: 3, Refusals: []Refusal{{Route: "r1", Filter: "jwt", Status: 401, Kind: "auth", Total: 3}}}
}

func TestPluginsAndRefusalsEndpoints(t *testing.T) {
	p := open(t)
	w := serve(t, &pluginBackend{}, p, "GET", "/plugins", "")
	var plugins []filter.PluginStatus
	if err := json.Unmarshal(w.Body.Bytes(), &plugins); w.Code != 200 || err != nil || len(plugins) != 1 || plugins[0].Traps != 1 || plugins[0].Routes[0] != "r1" {
		t.Fatalf("GET /plugins: %d %v %s", w.Code, err, w.Body)
	}
	if !strings.Contains(w.Body.String(), `"memory_bytes": 1048576`) || !strings.Contains(w.Body.String(), `"deadline_hits": 0`) {
		t.Errorf("GET /plugins names its fields otherwise: %s", w.Body)
	}
	w = serve(t, &pluginBackend{}, p, "GET", "/refusals", "")
	var rf Refusals
	if err := json.Unmarshal(w.Body.Bytes(), &rf); w.Code != 200 || err != nil || rf.Auth != 3 || rf.Refusals[0].Filter != "jwt" {
		t.Fatalf("GET /refusals: %d %v %s", w.Code, err, w.Body)
	}
	// Without plugins the list is empty, not null; without counts, 404.
	if w := serve(t, &fakeBackend{}, p, "GET", "/plugins", ""); w.Code != 200 || strings.TrimSpace(w.Body.String()) != "[]" {
		t.Errorf("GET /plugins of a backend without plugins: %d %s", w.Code, w.Body)
	}
	if w := serve(t, &fakeBackend{}, p, "GET", "/refusals", ""); w.Code != 404 || !strings.Contains(w.Body.String(), "counts no refusals") {
		t.Errorf("GET /refusals of a backend without counts: %d %s", w.Code, w.Body)
	}
}
