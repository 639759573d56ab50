package admin

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/upstream"
)

type fakeBackend struct {
	ready   atomic.Bool
	reloads atomic.Int32
	fail    bool
	pprof   atomic.Bool
}

func (f *fakeBackend) Pprof() bool { return f.pprof.Load() }

func (f *fakeBackend) Ready() bool { return f.ready.Load() }
func (f *fakeBackend) Status() Status {
	return Status{Generation: uint64(f.reloads.Load()) + 1, LoadedAt: time.Unix(0, 0)}
}
func (f *fakeBackend) ConfigYAML() []byte { return []byte("a: 1\n") }
func (f *fakeBackend) Routes() []Route    { return []Route{{Name: "r1", Path: "/x"}} }
func (f *fakeBackend) Upstreams() []upstream.Status {
	return []upstream.Status{{Name: "u", Targets: []upstream.TargetStatus{{URL: "http://a:1", Available: true}}}}
}
func (f *fakeBackend) Reload() error {
	if f.fail {
		return errors.New("gateway.yaml:3:5: routes[0].upstream: unknown upstream")
	}
	f.reloads.Add(1)
	return nil
}

// open is the policy of a loopback admin API with no admin.auth.
func open(t *testing.T) *Policy {
	t.Helper()
	p, err := NewPolicy(&config.Admin{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAdminEndpoints(t *testing.T) {
	b := &fakeBackend{}
	s, err := Start("127.0.0.1:0", open(t), b, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(t.Context())
	base := "http://" + s.Addr().String()
	get := func(method, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	if code, _ := get("GET", "/healthz"); code != 200 {
		t.Errorf("healthz %d", code)
	}
	if code, _ := get("GET", "/readyz"); code != 503 {
		t.Errorf("readyz before ready = %d, want 503", code)
	}
	b.ready.Store(true)
	if code, _ := get("GET", "/readyz"); code != 200 {
		t.Errorf("readyz when ready = %d, want 200", code)
	}
	if code, body := get("GET", "/routes"); code != 200 || !strings.Contains(body, `"name": "r1"`) {
		t.Errorf("routes: %d %s", code, body)
	}
	if code, _ := get("GET", "/reload"); code != 405 {
		t.Errorf("GET /reload = %d, want 405 (reload is POST only)", code)
	}
	if code, body := get("POST", "/reload"); code != 200 || !strings.Contains(body, `"reloaded": true`) || b.reloads.Load() != 1 {
		t.Errorf("reload: %d %s", code, body)
	}
	b.fail = true
	if code, body := get("POST", "/reload"); code != 422 || !strings.Contains(body, "unknown upstream") {
		t.Errorf("failed reload: %d %s", code, body)
	}
	if code, body := get("GET", "/nope"); code != 404 || !strings.Contains(body, "POST /reload") {
		t.Errorf("unknown endpoint: %d %s", code, body)
	}

	// Profiles: off by default, on while the backend says so (a reload).
	if code, body := get("GET", "/debug/pprof/goroutine?debug=1"); code != 404 || !strings.Contains(body, "admin.pprof: true") {
		t.Errorf("pprof while off: %d %s, want 404 naming admin.pprof", code, body)
	}
	b.pprof.Store(true)
	if code, body := get("GET", "/debug/pprof/goroutine?debug=1"); code != 200 || !strings.Contains(body, "goroutine profile:") {
		t.Errorf("pprof goroutines: %d %.200s", code, body)
	}
	if code, body := get("GET", "/debug/pprof/profile?seconds=1"); code != 200 || len(body) == 0 {
		t.Errorf("pprof CPU profile: %d, %d bytes", code, len(body))
	}
	b.pprof.Store(false)
	if code, _ := get("GET", "/debug/pprof/"); code != 404 {
		t.Errorf("pprof index after turning it off: %d, want 404", code)
	}
}

// observedBackend counts admin requests and reports an unready upstream.
type observedBackend struct {
	fakeBackend
	got []string
}

func (o *observedBackend) AdminRequest(endpoint string, status int, _ time.Duration) {
	o.got = append(o.got, endpoint+" "+http.StatusText(status))
}

func (o *observedBackend) Unready() []string { return []string{"users"} }

func (o *observedBackend) Metrics() (string, http.Handler) {
	return "/m", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "x 1\n") })
}

func TestAdminRequestsObserved(t *testing.T) {
	b := &observedBackend{}
	p := open(t)
	h := handler(b, func() *Policy { return p }, slog.New(slog.DiscardHandler))
	for _, rq := range [][2]string{{"GET", "/healthz"}, {"GET", "/readyz"}, {"GET", "/m"}, {"GET", "/nope"}, {"GET", "/reload"}, {"GET", "/status"}, {"POST", "/reload"}} {
		w := httptest.NewRecorder()
		req := httptest.NewRequest(rq[0], rq[1], nil)
		req.Host = "127.0.0.1:9901"
		if rq[0] == "POST" { // refused by the guard, still counted
			req.Header.Set("Content-Type", "text/plain")
		}
		h.ServeHTTP(w, req)
		if rq[1] == "/readyz" && !strings.Contains(w.Body.String(), `"unavailable_upstreams": [`) {
			t.Errorf("readyz body %s does not name the upstream holding it back", w.Body)
		}
	}
	want := "healthz OK|readyz Service Unavailable|metrics OK|other Not Found|reload Method Not Allowed|status OK|reload Unsupported Media Type"
	if got := strings.Join(b.got, "|"); got != want {
		t.Errorf("observed\n got %s\nwant %s", got, want)
	}
}
