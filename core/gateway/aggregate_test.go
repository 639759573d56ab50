package gateway

import (
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
	"sync/atomic"
	"testing"
	"time"
)

// backend is a real upstream for aggregate tests: it answers with handle,
// and records the request URIs it saw.
type backend struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func newBackend(t testing.TB, handle http.HandlerFunc) *backend {
	t.Helper()
	b := &backend{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.seen = append(b.seen, r.URL.RequestURI())
		b.mu.Unlock()
		handle(w, r)
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *backend) requests() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.seen...)
}

func jsonBackend(t testing.TB, delay time.Duration, body string) *backend {
	return newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	})
}

// startYAML starts a gateway on cfg, where {name} placeholders are replaced
// by the URLs of the given backends.
func startYAML(t testing.TB, cfg string, backends map[string]*backend) string {
	t.Helper()
	for name, b := range backends {
		cfg = strings.ReplaceAll(cfg, "{"+name+"}", b.URL)
	}
	file := filepath.Join(t.TempDir(), "gw.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g, err := Start(Source{File: file}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Shutdown(t.Context()) })
	return "http://" + g.Addrs()["main"].String()
}

const aggregateConfig = `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
upstreams:
  users:  { targets: [{ url: "{users}/v1" }] }
  orders: { targets: [{ url: "{orders}" }] }
  recs:   { targets: [{ url: "{recs}" }] }
routes:
  - name: home
    match: { path: "/home/{id}", methods: [GET] }
    filters:
      - headers:
          request:  { set: { X-User: "{id}" } }
          response: { set: { X-Edited: "yes" }, remove: [X-Wasmgate-Partial] }
    aggregate:
      calls:
        - { upstream: users, path: "/users/{id}", as: profile, deny: [password], pass_headers: [X-User] }
        - { upstream: orders, path: "/orders?user={profile.id}", after: profile, select: items, as: orders }
        - { name: recs, upstream: recs, path: "/recs/{id}", merge: true, group: more, required: false, timeout: 100ms }
`

func TestAggregateThroughGateway(t *testing.T) {
	var userHeader atomic.Value
	users := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		userHeader.Store(r.Header.Get("X-User"))
		fmt.Fprintf(w, `{"id": "u-%s", "name": "Ada", "password": "hunter2"}`, strings.TrimPrefix(r.URL.Path, "/v1/users/"))
	})
	orders := jsonBackend(t, 0, `{"items": [{"id": 1}], "total": 1}`)
	recs := jsonBackend(t, 0, `{"books": ["SICP"]}`)
	gw := startYAML(t, aggregateConfig, map[string]*backend{"users": users, "orders": orders, "recs": recs})

	resp, body := get(t, gw+"/home/a%20b")
	if resp == nil || resp.StatusCode != 200 {
		t.Fatalf("status %v body %s", resp, body)
	}
	want := `{"profile":{"id":"u-a b","name":"Ada"},"orders":[{"id": 1}],"more":{"books":["SICP"]}}` + "\n"
	if body != want {
		t.Errorf("body\n got %s\nwant %s", body, want)
	}
	// The dependent call used the first call's field, escaped for a query.
	if got := orders.requests(); len(got) != 1 || got[0] != "/orders?user=u-a+b" {
		t.Errorf("orders saw %v", got)
	}
	// The target's base path is kept; the route param stays one segment.
	if got := users.requests(); len(got) != 1 || got[0] != "/v1/users/a%20b" {
		t.Errorf("users saw %v", got)
	}
	// The headers filter renders route params as they stand in the path.
	if userHeader.Load() != "a%20b" {
		t.Errorf("the request filter's header reached the backend as %q", userHeader.Load())
	}
	if resp.Header.Get("X-Edited") != "yes" || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("response phase did not run on the merged response: %v", resp.Header)
	}
}

func TestAggregatePartialAndFailures(t *testing.T) {
	users := jsonBackend(t, 0, `{"id": 7}`)
	orders := jsonBackend(t, 0, `{"items": []}`)
	slowRecs := jsonBackend(t, time.Hour, `{}`) // answers only when the gateway gives up on it
	cfg := strings.Replace(aggregateConfig, "remove: [X-Wasmgate-Partial] ", "", 1)
	gw := startYAML(t, cfg, map[string]*backend{"users": users, "orders": orders, "recs": slowRecs})

	start := time.Now()
	resp, body := get(t, gw+"/home/7")
	if resp == nil || resp.StatusCode != 200 || resp.Header.Get("X-Wasmgate-Partial") != "recs" {
		t.Fatalf("resp %v body %s", resp, body)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("the optional call's 100ms timeout did not bound the response: %v", el)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil || fmt.Sprint(m["_partial"]) != "[recs]" || m["more"] != nil {
		t.Errorf("body %s (%v)", body, err)
	}
}

func TestAggregateRequiredFailures(t *testing.T) {
	cases := []struct {
		name   string
		users  http.HandlerFunc
		status int
		reason string
	}{
		{"5xx", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }, 502, "call profile: upstream users answered 503"},
		{"bad json", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>oops</html>") }, 502, "call profile: the body is not JSON"},
		{"large", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"a":"`+strings.Repeat("x", 1<<20)+`"}`)
		}, 502, "call profile: the body of upstream users exceeds 1048576 bytes"},
		{"large chunked", func(w http.ResponseWriter, r *http.Request) {
			for range 300 {
				io.WriteString(w, strings.Repeat("x", 4096))
				w.(http.Flusher).Flush()
			}
		}, 502, "exceeds 1048576 bytes"},
		{"timeout", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(3 * time.Second):
			case <-r.Context().Done():
			}
		}, 504, "the aggregate timed out after 150ms"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			users := newBackend(t, tc.users)
			orders := jsonBackend(t, 0, `{"items": []}`)
			recs := jsonBackend(t, 0, `{}`)
			// Only the timeout case may be cut by the route's timeout; the
			// others must fail for their own reason even on a slow machine.
			timeout := "30s"
			if tc.status == http.StatusGatewayTimeout {
				timeout = "150ms"
			}
			cfg := strings.Replace(aggregateConfig, "    aggregate:\n", "    timeouts: { request: "+timeout+" }\n    aggregate:\n", 1)
			gw := startYAML(t, cfg, map[string]*backend{"users": users, "orders": orders, "recs": recs})
			resp, body := get(t, gw+"/home/7")
			if resp == nil || resp.StatusCode != tc.status || !strings.Contains(body, tc.reason) {
				t.Fatalf("resp %v body %s; want %d with %q", resp, body, tc.status, tc.reason)
			}
			if resp.Header.Get("X-Edited") != "yes" {
				t.Errorf("the response phase did not run on the error")
			}
			if n := len(orders.requests()); n != 0 {
				t.Errorf("a call after a failed required call was made %d times", n)
			}
		})
	}
}

func TestAggregateConcurrentRequests(t *testing.T) {
	users := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"id": %q}`, strings.TrimPrefix(r.URL.Path, "/v1/users/"))
	})
	orders := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"items": [%q]}`, r.URL.Query().Get("user"))
	})
	recs := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "3") {
			w.WriteHeader(500) // every tenth user: partial
			return
		}
		fmt.Fprintf(w, `{"for": %q}`, strings.TrimPrefix(r.URL.Path, "/recs/"))
	})
	// The optional call's 100ms timeout is for the tests of timeouts: here a
	// loaded machine (the race detector, parallel packages) must not turn an
	// answer into a partial one.
	cfg := strings.Replace(aggregateConfig, "timeout: 100ms", "timeout: 30s", 1)
	gw := startYAML(t, cfg, map[string]*backend{"users": users, "orders": orders, "recs": recs})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 25 {
				id := fmt.Sprint(w*100 + i)
				resp, body := get(t, gw+"/home/"+id)
				if resp == nil {
					return
				}
				var m struct {
					Profile struct{ ID string }
					Orders  []string
					More    struct{ For string }
					Partial []string `json:"_partial"`
				}
				if err := json.Unmarshal([]byte(body), &m); err != nil || resp.StatusCode != 200 ||
					m.Profile.ID != id || len(m.Orders) != 1 || m.Orders[0] != id {
					t.Errorf("%s: %d %s", id, resp.StatusCode, body)
					return
				}
				if partial := strings.HasSuffix(id, "3"); partial != (len(m.Partial) == 1) || !partial && m.More.For != id {
					t.Errorf("%s: %s", id, body)
				}
			}
		})
	}
	wg.Wait()
}

func TestAggregateFanOutIsConcurrent(t *testing.T) {
	const delay = 20 * time.Millisecond
	a, b, c := jsonBackend(t, delay, `{"a":1}`), jsonBackend(t, delay, `{"b":2}`), jsonBackend(t, delay, `{"c":3}`)
	gw := startYAML(t, fanOutConfig, map[string]*backend{"a": a, "b": b, "c": c})
	get(t, gw+"/fan") // warm the connection pools
	best := time.Hour
	for range 5 {
		start := time.Now()
		resp, body := get(t, gw+"/fan")
		if resp == nil || resp.StatusCode != 200 || body != `{"a":1,"b":2,"c":3}`+"\n" {
			t.Fatalf("resp %v body %s", resp, body)
		}
		best = min(best, time.Since(start))
	}
	// Sequential calls would take 60ms; concurrent ones a little over 20ms.
	if best > 2*delay {
		t.Errorf("fastest fan-out took %v; calls are not concurrent", best)
	}
}

const fanOutConfig = `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
upstreams:
  a: { targets: [{ url: "{a}" }] }
  b: { targets: [{ url: "{b}" }] }
  c: { targets: [{ url: "{c}" }] }
routes:
  - name: fan
    match: { path: /fan }
    aggregate:
      calls:
        - { upstream: a, path: /a, merge: true }
        - { upstream: b, path: /b, merge: true }
        - { upstream: c, path: /c, merge: true }
`

func TestAggregateConfigErrors(t *testing.T) {
	cfg := `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
upstreams:
  users: { targets: [{ url: "http://127.0.0.1:1" }] }
routes:
  - name: home
    match: { path: "/home/{id}" }
    aggregate:
      calls:
        - { name: a, upstream: users, path: "/u/{idd}", as: a, after: b }
        - { name: b, upstream: users, path: "/o/{a.id}", as: b, after: [a, zz] }
        - { upstream: nope, path: "/x", as: c }
        - { upstream: users, path: "/y/{c.id}", as: d }
`
	file := filepath.Join(t.TempDir(), "gw.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Validate(Source{File: file}, slog.New(slog.DiscardHandler))
	if err == nil {
		t.Fatal("an invalid aggregate was accepted")
	}
	for _, want := range []string{
		`routes[0].aggregate.calls[1].after[1]: unknown call "zz"; valid calls: a, b, c, d`,
		`routes[0].aggregate.calls[1].after: calls wait for each other in a cycle: a -> b -> a`,
		`routes[0].aggregate.calls[2].upstream: unknown upstream "nope"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	// Placeholders are checked once the graph is sound.
	cfg = strings.NewReplacer("after: b }", "}", ", zz]", "]", "upstream: nope", "upstream: users").Replace(cfg)
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Validate(Source{File: file}, slog.New(slog.DiscardHandler))
	for _, want := range []string{
		`gw.yaml:11:`,
		`routes[0].aggregate.calls[0].path: unknown placeholder {idd}`,
		`routes[0].aggregate.calls[3].path: reads the result of call "c", which it does not wait for; add after: [c]`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

// Backend calls go through the proxy's attempt loop: a call to an upstream
// with a dead target is retried on the live one, and the backend sees the
// forwarding headers of a proxied request.
func TestAggregateCallsRetryAndForward(t *testing.T) {
	var sawXFF atomic.Value
	live := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		sawXFF.Store(r.Header.Get("X-Forwarded-For"))
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok": true}`)
	})
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close() // connections to it are refused

	cfg := `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
upstreams:
  flaky:
    targets: [{ url: "` + deadURL + `" }, { url: "{live}" }]
    retries: { attempts: 3, on: [connect_failure] }
routes:
  - name: agg
    match: { path: /agg }
    aggregate:
      calls:
        - { upstream: flaky, path: /x, as: x }
`
	base := startYAML(t, cfg, map[string]*backend{"live": live})
	for i := range 4 { // round robin starts on the dead target at least once
		resp, err := http.Get(base + "/agg")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var got struct{ X struct{ OK bool } }
		if resp.StatusCode != 200 || json.Unmarshal(body, &got) != nil || !got.X.OK {
			t.Fatalf("request %d: %d %s; a connect failure must be retried on the live target", i, resp.StatusCode, body)
		}
	}
	if got, _ := sawXFF.Load().(string); got != "127.0.0.1" {
		t.Errorf("backend saw X-Forwarded-For %q, want the client's address", got)
	}
}
