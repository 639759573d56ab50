package aggregate

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/router"
)

// handlerCaller serves calls with in-process handlers, one per upstream,
// and records the request URIs each upstream saw.
type handlerCaller struct {
	h    http.Handler
	mu   *sync.Mutex
	seen *[]string
}

func (c handlerCaller) Do(ctx context.Context, _ *filter.Exchange, req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	*c.seen = append(*c.seen, req.URL.RequestURI())
	c.mu.Unlock()
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() { c.h.ServeHTTP(rec, req); close(done) }()
	select {
	case <-done:
		return rec.Result(), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type fixture struct {
	mu       sync.Mutex
	seen     map[string]*[]string
	handlers map[string]http.Handler
}

func newFixture(handlers map[string]http.Handler) *fixture {
	f := &fixture{seen: map[string]*[]string{}, handlers: handlers}
	for name := range handlers {
		f.seen[name] = new([]string)
	}
	return f
}

func (f *fixture) caller(name string) Caller {
	h, ok := f.handlers[name]
	if !ok {
		return nil
	}
	return handlerCaller{h: h, mu: &f.mu, seen: f.seen[name]}
}

func (f *fixture) requests(name string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), *f.seen[name]...)
}

func jsonHandler(body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	})
}

// parseSpec decodes an aggregate block written in YAML.
func parseSpec(t testing.TB, src string) *config.Aggregate {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	var a config.Aggregate
	if err := config.Decode("", &doc, "aggregate", &a); err != nil {
		t.Fatal(err)
	}
	return &a
}

func compile(t testing.TB, f *fixture, src string, params ...string) *Plan {
	t.Helper()
	p, err := Compile(parseSpec(t, src), Options{Params: params, Caller: f.caller})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func exchange(target string, params ...string) *filter.Exchange {
	x := &filter.Exchange{Request: httptest.NewRequest("GET", target, nil)}
	for i := 0; i+1 < len(params); i += 2 {
		x.Params = append(x.Params, router.Param{Name: params[i], Value: params[i+1]})
	}
	return x
}

func run(t *testing.T, p *Plan, x *filter.Exchange) (*filter.Response, map[string]any) {
	t.Helper()
	resp := p.Run(x)
	if resp == nil {
		t.Fatal("no response")
	}
	var m map[string]any
	if err := json.Unmarshal(resp.Body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", resp.Body, err)
	}
	return resp, m
}

func TestPlacementModes(t *testing.T) {
	f := newFixture(map[string]http.Handler{
		"users":  jsonHandler(`{"id": 7, "name": "Ada", "password": "x", "team": "compilers"}`),
		"orders": jsonHandler(`{"data": {"items": [{"id": 1, "total": 5, "secret": 1}, {"id": 2, "total": 9, "secret": 2}]}}`),
		"flags":  jsonHandler(`{"beta": true, "dark": false}`),
		"stats":  jsonHandler(`[1, 2, 3]`),
	})
	p := compile(t, f, `
calls:
  - { upstream: users, path: "/u", as: profile, deny: [password], rename: { team: group } }
  - { upstream: orders, path: "/o", as: orders, select: data.items, allow: [id, total] }
  - { upstream: flags, path: "/f", merge: true }
  - { upstream: stats, path: "/s", as: counts, group: extra }
  - { name: first, upstream: orders, path: "/o", as: first, select: data.items.0.id, group: extra }
`)
	resp, _ := run(t, p, exchange("/"))
	want := `{"profile":{"group":"compilers","id":7,"name":"Ada"},"orders":[{"id":1,"total":5},{"id":2,"total":9}],"beta":true,"dark":false,"extra":{"counts":[1, 2, 3],"first":1}}` + "\n"
	if string(resp.Body) != want {
		t.Errorf("body\n got %s\nwant %s", resp.Body, want)
	}
	if resp.Status != 200 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Content-Length") != fmt.Sprint(len(want)) {
		t.Errorf("status %d, headers %v", resp.Status, resp.Header)
	}
	if resp.Header.Get(PartialHeader) != "" {
		t.Errorf("partial header on a complete response: %q", resp.Header.Get(PartialHeader))
	}
}

func TestDependencyUsesEarlierResultEscaped(t *testing.T) {
	f := newFixture(map[string]http.Handler{
		"users":  jsonHandler(`{"id": "a/b c?d", "n": 12}`),
		"orders": jsonHandler(`[]`),
	})
	p := compile(t, f, `
calls:
  - { upstream: users, path: "/users/{id}?lang={query.lang}", as: profile }
  - { upstream: orders, path: "/orders/{profile.id}?user={profile.id}&n={profile.n}", after: profile, as: orders }
`, "id")
	resp, m := run(t, p, exchange("/home/x?lang=en%26fr", "id", "../42"))
	if resp.Status != 200 || m["orders"] == nil {
		t.Fatalf("status %d body %s", resp.Status, resp.Body)
	}
	if got, want := f.requests("users"), []string{"/users/..%2F42?lang=en%26fr"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("users saw %v, want %v", got, want)
	}
	if got, want := f.requests("orders"), []string{"/orders/a%2Fb%20c%3Fd?user=a%2Fb+c%3Fd&n=12"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("orders saw %v, want %v", got, want)
	}
}

func TestPathValueThatWouldTraverseIsRefused(t *testing.T) {
	f := newFixture(map[string]http.Handler{"users": jsonHandler(`{}`)})
	p := compile(t, f, `calls: [{ upstream: users, path: "/users/{query.id}", as: u }]`)
	for _, q := range []string{"", "?id=", "?id=..", "?id=."} {
		resp := p.Run(exchange("/" + q))
		if resp.Status != 400 || !strings.Contains(string(resp.Body), "cannot stand in a path") {
			t.Errorf("%q: status %d body %s", q, resp.Status, resp.Body)
		}
	}
	if n := len(f.requests("users")); n != 0 {
		t.Errorf("the backend got %d requests", n)
	}
}

func TestClaimsAndHeaders(t *testing.T) {
	var got http.Header
	f := newFixture(map[string]http.Handler{"users": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		fmt.Fprintf(w, `{"path": %q}`, r.URL.RequestURI())
	})})
	p := compile(t, f, `
calls:
  - upstream: users
    path: "/me/{claim.sub}"
    headers: { X-Tenant: "{header.X-Tenant}-{claim.tier}" }
    pass_headers: [authorization]
    as: me
`)
	x := exchange("/")
	x.Request.Header.Set("Authorization", "Bearer t")
	x.Request.Header.Set("X-Tenant", "acme")
	x.Request.Header.Set("X-Secret", "no")
	x.Set(filter.ClaimsKey{}, map[string]any{"sub": "user 1", "tier": 2.0})
	_, m := run(t, p, x)
	if me := m["me"].(map[string]any); me["path"] != "/me/user%201" {
		t.Errorf("path %v", me["path"])
	}
	if got.Get("Authorization") != "Bearer t" || got.Get("X-Tenant") != "acme-2" || got.Get("X-Secret") != "" || got.Get("Accept") != "application/json" {
		t.Errorf("headers %v", got)
	}
}

func TestOptionalFailuresArePartial(t *testing.T) {
	f := newFixture(map[string]http.Handler{
		"users": jsonHandler(`{"id": 1}`),
		"recs":  http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }),
		"bad":   jsonHandler(`<html>`),
		"after": jsonHandler(`{}`),
	})
	p := compile(t, f, `
calls:
  - { upstream: users, path: "/u", as: profile }
  - { upstream: recs, path: "/r", as: recs, required: false }
  - { upstream: bad, path: "/b", as: bad, required: false }
  - { upstream: after, path: "/a/{recs.id}", as: next, after: recs, required: false }
`)
	resp, m := run(t, p, exchange("/"))
	if resp.Status != 200 || resp.Header.Get(PartialHeader) != "recs,bad,next" {
		t.Fatalf("status %d partial %q body %s", resp.Status, resp.Header.Get(PartialHeader), resp.Body)
	}
	if fmt.Sprint(m["_partial"]) != "[recs bad next]" || m["profile"] == nil || m["recs"] != nil {
		t.Errorf("body %s", resp.Body)
	}
	if n := len(f.requests("after")); n != 0 {
		t.Errorf("a call after a failed one was made %d times", n)
	}
}

func TestRequiredFailures(t *testing.T) {
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
		fmt.Fprint(w, `{}`)
	})
	cases := []struct {
		name, handlerBody, extra string
		h                        http.Handler
		status                   int
		reason                   string
	}{
		{name: "status", h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }), status: 502, reason: "call u: upstream users answered 500"},
		{name: "404", h: http.NotFoundHandler(), status: 404, reason: "call u: upstream users answered 404"},
		{name: "not json", h: jsonHandler(`{"a":`), status: 502, reason: "call u: the body is not JSON"},
		{name: "empty", h: jsonHandler(``), status: 502, reason: "the body is not JSON: it is empty"},
		{name: "too large", h: jsonHandler(`{"a":"` + strings.Repeat("x", 2000) + `"}`), extra: "max_body: 1KiB\n", status: 502, reason: "exceeds 1024 bytes"},
		{name: "timeout", h: slow, extra: "", status: 504, reason: "call u: timed out after 50ms"},
		{name: "select missing", h: jsonHandler(`{"data": {}}`), status: 502, reason: "select: data has no field"},
		{name: "merge list", h: jsonHandler(`[1]`), status: 502, reason: "merge: true needs a JSON object; the result is a list"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(map[string]http.Handler{"users": tc.h})
			call := `{ upstream: users, path: "/u", as: u, timeout: 50ms }`
			switch tc.name {
			case "select missing":
				call = `{ upstream: users, path: "/u", as: u, select: data.items }`
			case "merge list":
				call = `{ upstream: users, path: "/u", merge: true, name: users }`
			}
			p := compile(t, f, tc.extra+"calls: ["+call+"]")
			start := time.Now()
			resp := p.Run(exchange("/"))
			if resp.Status != tc.status || !strings.Contains(string(resp.Body), tc.reason) {
				t.Errorf("status %d body %s; want %d with %q", resp.Status, resp.Body, tc.status, tc.reason)
			}
			if time.Since(start) > time.Second {
				t.Errorf("took %v", time.Since(start))
			}
		})
	}
}

func TestMergedResponseCap(t *testing.T) {
	big := `{"a":"` + strings.Repeat("x", 600) + `"}`
	f := newFixture(map[string]http.Handler{"a": jsonHandler(big), "b": jsonHandler(big)})
	p := compile(t, f, `
max_body: 1KiB
calls:
  - { upstream: a, path: "/", as: a }
  - { upstream: b, path: "/", as: b }
`)
	resp := p.Run(exchange("/"))
	if resp.Status != 502 || !strings.Contains(string(resp.Body), "the merged response exceeds 1024 bytes") {
		t.Errorf("status %d body %s", resp.Status, resp.Body)
	}
}

func TestRunsEachCallWhenItsDependenciesAreDone(t *testing.T) {
	// a (slow) and b (fast) start at once; c waits only for b, so it must
	// finish before a does, not in a second wave after both.
	release := make(chan struct{})
	var order []string
	var mu sync.Mutex
	note := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	f := newFixture(map[string]http.Handler{
		"a": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release; note("a"); fmt.Fprint(w, `{}`) }),
		"b": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { note("b"); fmt.Fprint(w, `{"id": 3}`) }),
		"c": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			note("c " + r.URL.Path)
			close(release)
			fmt.Fprint(w, `{}`)
		}),
	})
	p := compile(t, f, `
calls:
  - { upstream: a, path: "/", as: a }
  - { upstream: b, path: "/", as: b }
  - { upstream: c, path: "/c/{b.id}", as: c, after: b }
`)
	resp := p.Run(exchange("/"))
	if resp.Status != 200 || fmt.Sprint(order) != "[b c /c/3 a]" {
		t.Errorf("status %d, order %v", resp.Status, order)
	}
}

func TestCompileErrors(t *testing.T) {
	f := newFixture(map[string]http.Handler{"u": jsonHandler(`{}`)})
	cases := []struct{ src, want string }{
		{`calls: [{ upstream: u, path: "/{nope}", as: a }]`, `calls[0].path: unknown placeholder {nope}`},
		{`calls: [{ upstream: u, path: "/{a.id}", as: a }, { upstream: u, path: "/{a.id}", as: b }]`, `calls[1].path: reads the result of call "a", which it does not wait for; add after: [a]`},
		{`calls: [{ upstream: u, path: "/", as: a, after: b }, { upstream: u, path: "/", as: b, after: a }]`, `calls: the calls wait for each other in a cycle`},
		{`calls: [{ upstream: missing, path: "/", as: a }]`, `calls[0].upstream: upstream "missing" is not available`},
		{`calls: [{ upstream: u, path: "/", as: a, after: zz }]`, `calls[0].after[0]: unknown call "zz"`},
		{`calls: [{ upstream: u, path: "/", as: a, headers: { X-A: "{a.}" } }]`, `write a field of a's result`},
	}
	for _, tc := range cases {
		_, err := Compile(parseSpec(t, tc.src), Options{Params: []string{"id"}, Caller: f.caller})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant %s", tc.src, err, tc.want)
		}
	}
}

func TestShapeHelpers(t *testing.T) {
	s := fieldShape{deny: []string{"b"}, rename: map[string]string{"a": "A", "d": "c"}}
	out, err := s.apply(json.RawMessage(`[{"a":1,"b":2,"c":"\u0001","d":4}, 5, {"b": 1}]`))
	if err != nil || string(out) != `[{"A":1,"c":4},5,{}]` {
		t.Errorf("got %s, %v", out, err)
	}
	if got := string(appendString(nil, "a\"b\\c\n")); got != `"a\"b\\c\u000a"` {
		t.Errorf("appendString: %s", got)
	}
	for _, tc := range []struct{ doc, path, want string }{
		{`{"a":{"b":[10,{"c":"x"}]}}`, "a.b.1.c", "x"},
		{`{"a":1.50}`, "a", "1.50"},
		{`{"a":true}`, "a", "true"},
	} {
		if got, err := field(json.RawMessage(tc.doc), splitPath(tc.path)); err != nil || got != tc.want {
			t.Errorf("field(%s, %s) = %q, %v", tc.doc, tc.path, got, err)
		}
	}
	for _, tc := range []struct{ doc, path, want string }{
		{`{"a":null}`, "a", "null"},
		{`{"a":{}}`, "a", "an object or a list"},
		{`{"a":[1]}`, "a.x", "not an index"},
		{`{"a":[1]}`, "a.3", "no index 3"},
		{`{"a":1}`, "a.b", "not an object or a list"},
	} {
		if _, err := field(json.RawMessage(tc.doc), splitPath(tc.path)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("field(%s, %s): %v, want %q", tc.doc, tc.path, err, tc.want)
		}
	}
	var o object
	for i := range 40 { // past scanKeys: the map index takes over
		o.set(fmt.Sprintf("k%d", i%30), json.RawMessage(fmt.Sprint(i)))
	}
	var m map[string]int
	if err := json.Unmarshal(o.appendTo(nil), &m); err != nil || len(m) != 30 || m["k0"] != 30 || m["k29"] != 29 {
		t.Errorf("object: %v %v", m, err)
	}
}

func TestClientCancellationStopsCalls(t *testing.T) {
	entered, stopped := make(chan struct{}), make(chan struct{})
	f := newFixture(map[string]http.Handler{"u": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done()
		close(stopped)
	})})
	p := compile(t, f, `calls: [{ upstream: u, path: "/", as: a }]`)
	ctx, cancel := context.WithCancel(context.Background())
	x := exchange("/")
	x.Request = x.Request.WithContext(ctx)
	go func() { <-entered; cancel() }() // the client leaves once the backend call is in flight
	if resp := p.Run(x); resp != nil {
		t.Errorf("got a response for a client that left: %d %s", resp.Status, resp.Body)
	}
	select {
	case <-stopped:
	case <-time.After(time.Second):
		t.Error("the backend call was not cancelled")
	}
}
