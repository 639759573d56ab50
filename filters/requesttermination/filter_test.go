package requesttermination

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/gateway"
	"github.com/wasmgate/wasmgate/filters/internal/testutil"
)

// exchange is a request to route "r" from 192.0.2.10.
func exchange(target string, header ...string) *filter.Exchange {
	r := httptest.NewRequest("GET", target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	return &filter.Exchange{Request: r, Route: "r", ClientIP: netip.MustParseAddr("192.0.2.10"), RequestID: "req-1"}
}

// Config errors come back from a whole config's load as file:line:col:
// field: reason, every one of them, each at the key that is wrong.
func TestConfigErrorsWithPositions(t *testing.T) {
	src := `listeners: [{address: "127.0.0.1:0"}]
admin: {address: "off"}
routes:
  - name: a
    match: {prefix: /a}
    respond: {status: 200}
    filters:
      - request_termination: {status: 42}
  - name: b
    match: {prefix: /b}
    respond: {status: 200}
    filters:
      - request_termination:
          status: 204
          message: gone
  - name: c
    match: {prefix: /c}
    respond: {status: 200}
    filters:
      - request_termination:
          message: down
          body: "<h1>down</h1>"
          content_type: "not a type"
  - name: d
    match: {prefix: /d}
    respond: {status: 200}
    filters:
      - request_termination:
          content_type: text/html
          headers: {Content-Length: "3", "Bad Name": x, X-Ok: "{nope}"}
          trigger: "X Debug"
          redact: [X-Partner]
  - name: e
    match: {prefix: /e}
    respond: {status: 200}
    filters:
      - request_termination: {echo: true, body: "", status: 101}
  - name: f
    match: {prefix: /f}
    respond: {status: 200}
    filters:
      - request_termination: {statuz: 503}
`
	file := filepath.Join(t.TempDir(), "gw.yaml")
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := gateway.Validate(gateway.Source{File: file}, slog.New(slog.DiscardHandler))
	var es config.Errors
	if !errors.As(err, &es) {
		t.Fatalf("want config.Errors, got %T: %v", err, err)
	}
	got := make([]string, len(es))
	for i, e := range es {
		got[i] = strings.TrimPrefix(e.Error(), filepath.Dir(file)+string(filepath.Separator))
	}
	const rt = ".filters[0].request_termination"
	want := []string{
		`gw.yaml:8:31: routes[0]` + rt + `.status: 42 is not an HTTP status; valid: 200 to 599 (default 503)`,
		`gw.yaml:14:11: routes[1]` + rt + `.status: a 204 answer has no body (RFC 9110, 15.3.5 and 15.4.5); drop message, body and echo, or choose another status`,
		`gw.yaml:22:11: routes[2]` + rt + `.body: message and body are exclusive: message answers the gateway's JSON error {"error": message, "status": N}, body a raw body; keep one`,
		`gw.yaml:23:11: routes[2]` + rt + `.content_type: "not a type" is not a media type; e.g. content_type: "text/html; charset=utf-8"`,
		`gw.yaml:29:11: routes[3]` + rt + `.content_type: content_type applies only to a raw body; add body: "..." or drop content_type`,
		`gw.yaml:30:42: routes[3]` + rt + `.headers.Bad Name: "Bad Name" is not a valid header name (RFC 9110 token: letters, digits and !#$%&'*+-.^_` + "`" + `|~)`,
		`gw.yaml:30:21: routes[3]` + rt + `.headers.Content-Length: Content-Length cannot be set here: the gateway computes it from the body`,
		`gw.yaml:31:11: routes[3]` + rt + `.trigger: "X Debug" is not a valid header name; the trigger is matched as a header and as a query parameter name, e.g. trigger: X-Debug-Terminate`,
		`gw.yaml:32:11: routes[3]` + rt + `.redact: redact applies only to echo; add echo: true or drop redact`,
		`gw.yaml:37:53: routes[4]` + rt + `.status: 101 is an informational status, not a final answer; valid: 200 to 599`,
		`gw.yaml:37:43: routes[4]` + rt + `.body: echo and body are exclusive: echo answers the request in JSON; keep one`,
		`gw.yaml:42:31: routes[5]` + rt + `.statuz: unknown field "statuz"; valid fields: body, content_type, echo, headers, message, redact, status, trigger; did you mean "status"?`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// A placeholder typo is found when the value is compiled, at its key.
	if _, err := testutil.Build(t, Name, `{headers: {X-Route: "{route.nam}"}}`, ""); err == nil || !strings.Contains(err.Error(), "route.nam") {
		t.Errorf("unknown placeholder: %v, want an error naming it", err)
	} else if p, _, ok := config.AsFieldErr(err); !ok || p != "headers.X-Route" {
		t.Errorf("unknown placeholder: field %q, want headers.X-Route", p)
	}
}

// gatewayError is the JSON shape of the gateway's own refusals.
type gatewayError struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}

func decodeError(t *testing.T, r *filter.Response) gatewayError {
	t.Helper()
	var e gatewayError
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatalf("body %q is not the gateway's JSON error: %v", r.Body, err)
	}
	return e
}

// With nothing configured every request gets a 503 in the gateway's JSON
// error shape, as Kong's default does.
func TestDefaultAnswer(t *testing.T) {
	f := testutil.MustBuild(t, Name, `{}`, "")
	r := f.OnRequest(exchange("/x"))
	if r == nil || r.Status != 503 || !r.Local {
		t.Fatalf("answer %+v, want a local 503", r)
	}
	if e := decodeError(t, r); e != (gatewayError{"Service Unavailable", 503}) {
		t.Errorf("body %+v", e)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if cl := r.Header.Get("Content-Length"); cl != "45" || len(r.Body) != 45 {
		t.Errorf("Content-Length %q for a %d-byte body", cl, len(r.Body))
	}
	if cap(r.Body) != len(r.Body) {
		t.Errorf("the shared body has room to grow (cap %d, len %d): an append would write into every answer's array", cap(r.Body), len(r.Body))
	}
}

// message and headers shape the answer; each request gets its own header,
// so a later filter's edit of one answer never shows in the next.
func TestMessageAndHeaders(t *testing.T) {
	f := testutil.MustBuild(t, Name, `{status: 410, message: "v1 is retired; use /v2", headers: {Retry-After: "3600", X-Route: "{route.name}", Link: "</v2{request.path}>; rel=successor-version"}}`, "")
	first := f.OnRequest(exchange("/users/7"))
	if first == nil || first.Status != 410 {
		t.Fatalf("answer %+v, want 410", first)
	}
	if e := decodeError(t, first); e != (gatewayError{"v1 is retired; use /v2", 410}) {
		t.Errorf("body %+v", e)
	}
	for name, want := range map[string]string{"Retry-After": "3600", "X-Route": "r", "Link": "</v2/users/7>; rel=successor-version"} {
		if got := first.Header.Values(name); !slices.Equal(got, []string{want}) {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if cap(first.Body) != len(first.Body) {
		t.Errorf("the shared body has room to grow (cap %d, len %d): an append would write into every answer's array", cap(first.Body), len(first.Body))
	}
	first.Header.Set("Retry-After", "edited")
	first.Header.Add("X-Route", "appended")
	first.Header.Set("Content-Type", "text/plain")
	first.Body = append(first.Body, "edited"...)
	second := f.OnRequest(exchange("/users/8"))
	if got := second.Header.Values("Retry-After"); !slices.Equal(got, []string{"3600"}) {
		t.Errorf("an edit of one answer's header shows in the next: Retry-After %q", got)
	}
	if got := second.Header.Values("X-Route"); !slices.Equal(got, []string{"r"}) {
		t.Errorf("an edit of one answer's header shows in the next: X-Route %q", got)
	}
	if ct := second.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("an edit of one answer's header shows in the next: Content-Type %q", ct)
	}
	if e := decodeError(t, second); e.Error != "v1 is retired; use /v2" {
		t.Errorf("an edit of one answer's body shows in the next: %q", second.Body)
	}
}

func TestRawBody(t *testing.T) {
	for _, c := range []struct{ block, body, contentType string }{
		{`{status: 200, body: "<h1>maintenance</h1>", content_type: "text/html; charset=utf-8"}`, "<h1>maintenance</h1>", "text/html; charset=utf-8"},
		{`{body: '{"down": true}'}`, `{"down": true}`, "application/json"},
		{`{body: "down for maintenance"}`, "down for maintenance", "text/plain; charset=utf-8"},
		{`{status: 403, body: ""}`, "", "text/plain; charset=utf-8"},
	} {
		r := testutil.MustBuild(t, Name, c.block, "").OnRequest(exchange("/"))
		if string(r.Body) != c.body || r.Header.Get("Content-Type") != c.contentType {
			t.Errorf("%s: %q as %q, want %q as %q", c.block, r.Body, r.Header.Get("Content-Type"), c.body, c.contentType)
		}
		if r.Header.Get("Content-Length") != strconv.Itoa(len(c.body)) {
			t.Errorf("%s: Content-Length %q for %d bytes", c.block, r.Header.Get("Content-Length"), len(c.body))
		}
	}
	// 204 and 304 carry nothing.
	r := testutil.MustBuild(t, Name, `{status: 204, headers: {X-Why: maintenance}}`, "").OnRequest(exchange("/"))
	if r.Status != 204 || r.Body != nil || r.Header.Get("Content-Type") != "" || r.Header.Get("X-Why") != "maintenance" {
		t.Errorf("204: %d %q %v, want no body and no Content-Type", r.Status, r.Body, r.Header)
	}
}

// With a trigger only the requests carrying it, as a header or as a query
// parameter, are terminated; the others continue untouched.
func TestTrigger(t *testing.T) {
	f := testutil.MustBuild(t, Name, `{trigger: X-Debug-Stop, status: 418}`, "")
	for _, c := range []struct {
		name   string
		x      *filter.Exchange
		answer bool
	}{
		{"no trigger", exchange("/api?debug=1"), false},
		{"header", exchange("/api", "X-Debug-Stop", "1"), true},
		{"header, other case", exchange("/api", "x-debug-stop", "yes"), true},
		{"header, empty value", exchange("/api", "X-Debug-Stop", ""), true},
		{"a header that only starts with it", exchange("/api", "X-Debug-Stopped", "1"), false},
		{"query", exchange("/api?X-Debug-Stop=1"), true},
		{"query without value", exchange("/api?a=1&X-Debug-Stop"), true},
		{"query, empty value", exchange("/api?X-Debug-Stop=&b=2"), true},
		{"query, percent-encoded name", exchange("/api?X-Debug-%53top=1"), true},
		{"query, other case", exchange("/api?x-debug-stop=1"), false}, // parameter names are exact
		{"query, the name as a value", exchange("/api?q=X-Debug-Stop"), false},
		{"query, a longer name", exchange("/api?X-Debug-Stopper=1"), false},
	} {
		r := f.OnRequest(c.x)
		if (r != nil) != c.answer {
			t.Errorf("%s: answered=%v, want %v", c.name, r != nil, c.answer)
		}
		if r != nil && r.Status != 418 {
			t.Errorf("%s: status %d, want 418", c.name, r.Status)
		}
	}
}

// The echo shows the request as the chain saw it, with every credential's
// value hidden and its presence kept.
func TestEchoRedaction(t *testing.T) {
	f := testutil.MustBuild(t, Name, `{echo: true, status: 200, trigger: X-Echo, redact: [x-partner-ref], headers: {X-Echoed: "1"}}`, "")
	const secret = "s3cr3t-value"
	x := exchange("/orders/7?page=2&access_token="+secret+"&api_key="+secret+"&page=3&X-Partner-Ref="+secret,
		"X-Echo", "1",
		"Authorization", "Bearer "+secret,
		"Proxy-Authorization", "Basic "+secret,
		"Cookie", "sid="+secret,
		"Cookie", "theme=dark; sid="+secret,
		"X-Api-Key", secret,
		"X-Auth-Token", secret,
		"X-Partner-Ref", secret,
		"Accept", "application/json",
	)
	x.Request.Host = "api.example.com"
	x.Consumer = &filter.Consumer{Name: "partner"}
	r := f.OnRequest(x)
	if r == nil || r.Status != 200 {
		t.Fatalf("answer %+v, want the echo with status 200", r)
	}
	if strings.Contains(string(r.Body), secret) {
		t.Errorf("the echo shows a credential: %s", r.Body)
	}
	if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("X-Echoed") != "1" {
		t.Errorf("echo headers %v", r.Header)
	}
	var e struct {
		Status   int     `json:"status"`
		Message  string  `json:"message"`
		Route    string  `json:"route"`
		Consumer *string `json:"consumer"`
		Request  struct {
			ID, Method, Host, Path string
			ClientIP               string              `json:"client_ip"`
			Query                  map[string][]string `json:"query"`
			Headers                map[string][]string `json:"headers"`
		} `json:"request"`
	}
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatalf("echo %q: %v", r.Body, err)
	}
	if e.Status != 200 || e.Message != "OK" || e.Route != "r" || e.Consumer == nil || *e.Consumer != "partner" {
		t.Errorf("echo %+v", e)
	}
	q := e.Request
	if q.ID != "req-1" || q.Method != "GET" || q.Host != "api.example.com" || q.Path != "/orders/7" || q.ClientIP != "192.0.2.10" {
		t.Errorf("echoed request %+v", q)
	}
	red := config.Redacted
	wantQuery := map[string][]string{"page": {"2", "3"}, "access_token": {red}, "api_key": {red}, "X-Partner-Ref": {red}}
	if !equalMaps(q.Query, wantQuery) {
		t.Errorf("query %v, want %v", q.Query, wantQuery)
	}
	wantHeaders := map[string][]string{
		"X-Echo": {"1"}, "Accept": {"application/json"},
		"Authorization": {red}, "Proxy-Authorization": {red}, "Cookie": {red, red},
		"X-Api-Key": {red}, "X-Auth-Token": {red}, "X-Partner-Ref": {red},
	}
	if !equalMaps(q.Headers, wantHeaders) {
		t.Errorf("headers %v, want %v", q.Headers, wantHeaders)
	}
	// The echo reads the request; it does not edit it.
	if got := x.Request.Header.Get("Authorization"); got != "Bearer "+secret {
		t.Errorf("the request's Authorization became %q", got)
	}

	// No consumer is null, not "".
	r = f.OnRequest(exchange("/", "X-Echo", ""))
	if !strings.Contains(string(r.Body), `"consumer":null`) {
		t.Errorf("anonymous echo %s, want consumer null", r.Body)
	}
}

func equalMaps(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// Every terminated request is counted, by route; a request that passes
// (no trigger) is not.
func TestTerminatedMetric(t *testing.T) {
	labels := filter.Label{Key: "http.route", Value: "r"}
	before := testutil.Meters.Count(TerminatedMetric.Name, labels)
	f := testutil.MustBuild(t, Name, `{trigger: X-Stop}`, "")
	f.OnRequest(exchange("/", "X-Stop", "1"))
	f.OnRequest(exchange("/"))
	f.OnRequest(exchange("/?X-Stop"))
	if got := testutil.Meters.Count(TerminatedMetric.Name, labels) - before; got != 2 {
		t.Errorf("counted %d terminated requests, want 2", got)
	}

	// As exported by the gateway's metrics.
	f, scrape := testutil.BuildWithMetrics(t, Name, `{echo: true}`, "")
	for range 3 {
		f.OnRequest(exchange("/"))
	}
	testutil.HasSamples(t, scrape(), `wasmgate_request_termination_terminated_total{http_route="r"} 3`)
}

// A request without the trigger costs a header lookup and a scan of the
// raw query, and allocates nothing.
func TestPassThroughAllocatesNothing(t *testing.T) {
	f := testutil.MustBuild(t, Name, `{trigger: X-Debug}`, "")
	x := exchange("/api/items?page=2&sort=name&q=%41bc", "Accept", "application/json", "User-Agent", "test")
	if allocs := testing.AllocsPerRun(100, func() {
		if f.OnRequest(x) != nil {
			t.Fatal("terminated a request without the trigger")
		}
	}); allocs != 0 {
		t.Errorf("%v allocations per pass-through request, want 0", allocs)
	}
}

func BenchmarkPassThrough(b *testing.B) {
	f := testutil.MustBuild(b, Name, `{trigger: X-Debug}`, "")
	x := exchange("/api/items?page=2&sort=name&q=abc", "Accept", "application/json", "User-Agent", "test")
	b.ReportAllocs()
	for b.Loop() {
		f.OnRequest(x)
	}
}

func BenchmarkTerminate(b *testing.B) {
	f := testutil.MustBuild(b, Name, `{message: down, headers: {Retry-After: "60"}}`, "")
	x := exchange("/api/items")
	b.ReportAllocs()
	for b.Loop() {
		f.OnRequest(x)
	}
}
