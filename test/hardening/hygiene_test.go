package hardening

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// hygieneConfig guards some routes with an API key and leaves a catch-all
// open behind them, so that a request that misses its guarded route by a
// spelling (of its method, its host) shows up at the upstream. Identity
// and marker headers are set by the gateway on the way in (X-Consumer-*,
// X-User-Id, X-Request-Id, X-Forwarded-*) and on the way out (Server,
// X-Served-By, CORS, X-Request-Id).
const hygieneConfig = `
server: { server_header: wasmgate }
listeners:
  - address: "{{.listen}}"
  - { name: h2c, address: "127.0.0.1:0", h2c: true }
admin: { address: "{{.admin}}" }
observability: { request_id: { header: X-Request-Id } }
consumers:
  - { name: app, api_keys: [{ key: "` + hygieneKey + `" }] }
  - { name: guest }
upstreams:
  rec: { targets: [{ url: "{{.rec}}" }] }
filter_chains:
  marks:
    - cors: { allow_origins: ["https://app.example"] }
    - headers:
        request: { set: { X-User-Id: "{consumer.name}" } }
        response: { set: { X-Served-By: wasmgate } }
routes:
  - name: admin
    match: { hosts: [admin.internal, "*.corp.internal"] }
    filters: [{ apikey: {} }]
    upstream: rec
  - name: delete
    match: { prefix: /m, methods: [DELETE] }
    filters: [{ apikey: {} }]
    upstream: rec
  - name: keyed
    match: { prefix: /key }
    filters: [{ apikey: {} }, { chain: marks }]
    upstream: rec
  - name: anon
    match: { prefix: /anon }
    filters: [{ apikey: { anonymous: guest } }, { chain: marks }]
    upstream: rec
  - name: open
    upstream: rec
`

const hygieneKey = "k-0123456789abcdef0123456789abcdef"

// rawClient is one keep-alive HTTP/1.1 connection written byte for byte:
// one request, then its response, in turn.
type rawClient struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, c: c, br: bufio.NewReader(c)}
}

// do sends raw and reads one response; a request the gateway closes the
// connection on leaves the client to redial.
func (rc *rawClient) do(raw string) *rawResp {
	rc.t.Helper()
	_ = rc.c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(rc.c, raw); err != nil {
		rc.t.Fatalf("write: %v", err)
	}
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		rc.t.Fatalf("reading the response to %q: %v", firstLine(raw), err)
	}
	body, berr := io.ReadAll(resp.Body)
	return &rawResp{Status: resp.StatusCode, Header: resp.Header, Body: body, Err: berr}
}

// caseVariants spells a field name or method as clients may: as given,
// lower, upper, and with alternating case.
func caseVariants(s string) []string {
	alt := []byte(strings.ToLower(s))
	for i := range alt {
		if i%2 == 1 && 'a' <= alt[i] && alt[i] <= 'z' {
			alt[i] -= 'a' - 'A'
		}
	}
	out := []string{s, strings.ToLower(s), strings.ToUpper(s), string(alt)}
	seen := map[string]bool{}
	uniq := out[:0]
	for _, v := range out {
		if !seen[v] {
			seen[v] = true
			uniq = append(uniq, v)
		}
	}
	return uniq
}

// connectionForms are the ways a Connection header may name a field: alone,
// in a list, padded with whitespace and empty elements, on a second line.
var connectionForms = []func(name string) string{
	func(n string) string { return "Connection: " + n + "\r\n" },
	func(n string) string { return "Connection: keep-alive, " + n + "\r\n" },
	func(n string) string { return "Connection: ,\t" + n + " ,, \r\n" },
	func(n string) string { return "Connection:   " + n + "\t\r\n" },
	func(n string) string { return "Connection: keep-alive\r\nConnection: " + n + "\r\n" },
	func(n string) string { return "Connection: x-other\r\nconnection: te, " + n + "\r\n" },
}

// TestConnectionCannotStripGatewayHeaders: the names in a client's
// Connection header remove only what the client sent. Every header the
// gateway sets on the way in (identity from the auth filter, a headers
// filter's, the request ID, forwarding headers) reaches the upstream with
// the gateway's value however the client names it, in every spelling and
// list form, and also when the client sent a value of its own. Issue 13,
// finding 3.
func TestConnectionCannotStripGatewayHeaders(t *testing.T) {
	rec := newRecorder(t)
	p := startProcess(t, hygieneConfig, vars{"rec": rec.URL()})
	rc := dialRaw(t, p.Listen)

	set := []string{
		"X-Consumer-Name", "X-Consumer-Anonymous", "X-User-Id", "X-Request-Id",
		"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-Ip", "Forwarded",
	}
	type variant struct{ route, connection string }
	var variants []variant
	for _, name := range set {
		for _, spelled := range caseVariants(name) {
			for _, form := range connectionForms {
				variants = append(variants, variant{"/anon", form(spelled)})
			}
		}
	}
	for _, spelled := range caseVariants(strings.Join(set, ", ")) {
		variants = append(variants, variant{"/anon", "Connection: " + spelled + "\r\n"}, variant{"/key", "Connection: " + spelled + "\r\n"})
	}

	for i, v := range variants {
		raw := "GET " + v.route + "/x HTTP/1.1\r\nHost: gw.example\r\n" + v.connection
		// The client's own values for every name, which must not survive.
		for _, name := range set {
			raw += name + ": spoofed\r\n"
		}
		consumer := "guest"
		if v.route == "/key" {
			raw += "X-Api-Key: " + hygieneKey + "\r\n"
			consumer = "app"
		}
		resp := rc.do(raw + "\r\n")
		got := rec.take() // filed before the upstream answered
		if resp.Status != 200 || len(got) != 1 {
			t.Fatalf("variant %d %q: status %d, %d requests upstream; want 200 and 1", i, v.connection, resp.Status, len(got))
		}
		h := got[0].Header
		want := map[string]string{
			"X-Consumer-Name":   consumer,
			"X-User-Id":         consumer,
			"X-Request-Id":      resp.Header.Get("X-Request-Id"),
			"X-Forwarded-For":   "127.0.0.1",
			"X-Real-Ip":         "127.0.0.1",
			"X-Forwarded-Proto": "http",
			"X-Forwarded-Host":  "gw.example",
			"Forwarded":         "for=127.0.0.1;host=gw.example;proto=http",
		}
		if consumer == "guest" {
			want["X-Consumer-Anonymous"] = "true"
		}
		for name, w := range want {
			if vv := h.Values(name); len(vv) != 1 || vv[0] != w || w == "" {
				t.Errorf("variant %d %q: upstream got %s %q, want %q", i, v.connection, name, vv, w)
			}
		}
		if vv, ok := h["X-Consumer-Anonymous"]; ok && consumer != "guest" {
			t.Errorf("variant %d: upstream got X-Consumer-Anonymous %q for a keyed consumer", i, vv)
		}
		if c := h.Get("Connection"); c != "" || got[0].Err != "" {
			t.Errorf("variant %d: upstream got Connection %q (%s)", i, c, got[0].Err)
		}
	}
}

// TestUpstreamConnectionCannotStripGatewayHeaders: the names in an
// upstream's Connection header remove only what the upstream sent, as it
// is received; the headers the gateway adds to the response afterwards
// (Server, a headers filter's, CORS, the request ID) reach the client in
// every spelling and list form. Issue 13, finding 3.
func TestUpstreamConnectionCannotStripGatewayHeaders(t *testing.T) {
	added := []string{"Server", "X-Served-By", "Access-Control-Allow-Origin", "Vary", "X-Request-Id"}
	var variants []string
	for _, name := range added {
		for _, spelled := range caseVariants(name) {
			for _, form := range connectionForms {
				variants = append(variants, form(spelled))
			}
		}
	}
	variants = append(variants, "Connection: close, "+strings.Join(added, ", ")+"\r\n")

	rec := newRecorder(t)
	rec.answer = func(c net.Conn, req *http.Request) bool {
		i, _ := strconv.Atoi(req.URL.Query().Get("v"))
		// Values only for what the gateway replaces: one it merges or
		// passes on (Vary, X-Request-Id) would be the upstream's to name.
		head := "HTTP/1.1 200 OK\r\n" + variants[i] + "Server: upstream\r\nX-Served-By: upstream\r\n"
		_, err := io.WriteString(c, head+"Content-Length: 2\r\n\r\nok")
		return err == nil && !strings.Contains(variants[i], "close")
	}
	p := startProcess(t, hygieneConfig, vars{"rec": rec.URL()})
	rc := dialRaw(t, p.Listen)

	for i, v := range variants {
		resp := rc.do("GET /anon/x?v=" + strconv.Itoa(i) + " HTTP/1.1\r\nHost: gw.example\r\nOrigin: https://app.example\r\n\r\n")
		if resp.Status != 200 {
			t.Fatalf("variant %d %q: status %d, want 200", i, v, resp.Status)
		}
		h := resp.Header
		for name, want := range map[string]string{
			"Server":                      "wasmgate",
			"X-Served-By":                 "wasmgate",
			"Access-Control-Allow-Origin": "https://app.example",
		} {
			if got := h.Values(name); len(got) != 1 || got[0] != want {
				t.Errorf("variant %d %q: client got %s %q, want %q", i, v, name, got, want)
			}
		}
		if id := h.Get("X-Request-Id"); len(id) != 32 {
			t.Errorf("variant %d %q: client got X-Request-Id %q, want the gateway's", i, v, h.Values("X-Request-Id"))
		}
		if !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
			t.Errorf("variant %d %q: client got Vary %q, want Origin in it", i, v, h.Values("Vary"))
		}
	}
	rec.take()
}

// standardMethods are RFC 9110's methods and PATCH.
var standardMethods = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}

// lowercaseSpellings are the spellings of the standard methods with at
// least one lowercase letter: lower, title case, alternating, and the last
// letter alone lowercase.
func lowercaseSpellings() []string {
	var out []string
	for _, m := range standardMethods {
		title := m[:1] + strings.ToLower(m[1:])
		last := m[:len(m)-1] + strings.ToLower(m[len(m)-1:])
		for _, v := range append(caseVariants(m), title, last) {
			if v != m && !contains(out, v) {
				out = append(out, v)
			}
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// h2Method sends one request with the given :method and authority over a
// new h2c connection and returns its outcome.
func h2Method(t *testing.T, addr, method, authority, path string, extra ...string) string {
	t.Helper()
	h := dialH2(t, addr)
	fields := append([]string{":method", method, ":scheme", "http", ":authority", authority, ":path", path}, extra...)
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(fields...), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	return h.outcome(1)
}

// TestLowercaseMethodsRefused: a method with a lowercase letter cannot
// slip past a route guarding its uppercase twin to the catch-all (routes
// match methods exactly, upstreams often fold case): every lowercase
// spelling of every standard method is refused with 400 and the gateway's
// JSON error, over HTTP/1.1 and h2, and nothing reaches the upstream; so
// are h2 :methods that are not tokens. With server.allow_lowercase_methods
// they pass. Issue 13, finding 4.
func TestLowercaseMethodsRefused(t *testing.T) {
	rec := newRecorder(t)
	p := startProcess(t, hygieneConfig, vars{"rec": rec.URL()})
	h2c := p.ListenerAddr("h2c")
	spellings := lowercaseSpellings()

	// The guard itself: DELETE without a key is refused, GET goes through.
	rc := dialRaw(t, p.Listen)
	if r := rc.do("DELETE /m/x HTTP/1.1\r\nHost: a\r\n\r\n"); r.Status != 401 {
		t.Fatalf("DELETE without a key: %d, want 401", r.Status)
	}
	if r := rc.do("GET /m/x HTTP/1.1\r\nHost: a\r\n\r\n"); r.Status != 200 {
		t.Fatalf("GET /m/x: %d, want 200 from the catch-all", r.Status)
	}
	rec.take()

	for _, m := range spellings {
		rc := dialRaw(t, p.Listen)
		r := rc.do(m + " /m/x HTTP/1.1\r\nHost: a\r\n\r\n")
		var body struct {
			Error  string `json:"error"`
			Status int    `json:"status"`
		}
		if r.Status != 400 || json.Unmarshal(r.Body, &body) != nil || body.Status != 400 {
			t.Errorf("HTTP/1.1 %s: %d %q, want 400 with the JSON error", m, r.Status, r.Body)
		}
		if got := h2Method(t, h2c, m, "a", "/m/x"); got != "400" {
			t.Errorf("h2 :method %s: %s, want 400", m, got)
		}
	}
	for _, m := range []string{"GE T", "GET\t", "G(ET)", "DELETE/", "", "DEL\"ETE"} {
		switch got := h2Method(t, h2c, m, "a", "/m/x"); got {
		case "400", "reset", "goaway", "closed":
		default:
			t.Errorf("h2 :method %q: %s, want it refused", m, got)
		}
	}
	rec.settle(t)
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("%d requests with lowercase or invalid methods reached the upstream; first: %q", len(got), got[0].Method)
	}

	// Opted in, they pass (to the catch-all: routes match exactly).
	rec2 := newRecorder(t)
	p2 := startProcess(t, strings.Replace(hygieneConfig, "server: {", "server: { allow_lowercase_methods: true,", 1), vars{"rec": rec2.URL()})
	for _, m := range spellings {
		rc := dialRaw(t, p2.Listen)
		if r := rc.do(m + " /m/x HTTP/1.1\r\nHost: a\r\n\r\n"); r.Status != 200 {
			t.Errorf("opted in, HTTP/1.1 %s: %d, want 200", m, r.Status)
		} else if got := rec2.take(); len(got) != 1 || got[0].Method != m {
			t.Errorf("opted in, %s reached the upstream as %v", m, got)
		}
	}
}

// TestHeaderCountCapped: a request with more header field lines than
// max_header_count (100 by default) is refused with 431 and the gateway's
// JSON error, over HTTP/1.1 and h2, before anything is forwarded; lines
// count one by one, repeated names included, and Host is not counted. An
// upstream response with more than 100 lines is a 502. Issue 13, finding 6.
func TestHeaderCountCapped(t *testing.T) {
	rec := newRecorder(t)
	rec.answer = func(c net.Conn, req *http.Request) bool {
		n, _ := strconv.Atoi(req.URL.Query().Get("lines"))
		head := "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-Dup: v\r\n", n) + "Content-Length: 2\r\n\r\nok"
		_, err := io.WriteString(c, head)
		return err == nil
	}
	p := startProcess(t, hygieneConfig, vars{"rec": rec.URL()})
	h2c := p.ListenerAddr("h2c")

	// Field lines of n in all: repeated, distinct, and mixed names.
	shapes := map[string]func(n int) []string{
		"repeated": func(n int) []string { return repeatField("a", n) },
		"distinct": func(n int) []string {
			var f []string
			for i := range n {
				f = append(f, "x-h"+strconv.Itoa(i), "v")
			}
			return f
		},
		"mixed": func(n int) []string {
			f := repeatField("cookie-ish", n/2)
			for i := range n - n/2 {
				f = append(f, "x-h"+strconv.Itoa(i), "v")
			}
			return f
		},
	}
	for name, shape := range shapes {
		for _, n := range []int{100, 101, 150, 1000} {
			fields := shape(n)
			raw := "GET /x HTTP/1.1\r\nHost: a\r\n"
			for i := 0; i < len(fields); i += 2 {
				raw += fields[i] + ": " + fields[i+1] + "\r\n"
			}
			want := 200
			if n > 100 {
				want = 431
			}
			r := dialRaw(t, p.Listen).do(raw + "\r\n")
			if r.Status != want || (want == 431 && !strings.Contains(string(r.Body), `"status":431`)) {
				t.Errorf("HTTP/1.1 %s %d lines: %d %q, want %d", name, n, r.Status, r.Body, want)
			}
			if got := h2Method(t, h2c, "GET", "a", "/x", fields...); got != strconv.Itoa(want) {
				t.Errorf("h2 %s %d fields: %s, want %d", name, n, got, want)
			}
			rec.settle(t)
			if got := rec.take(); len(got) != 2*boolInt(want == 200) {
				t.Errorf("%s %d lines: %d requests reached the upstream, want %d", name, n, len(got), 2*boolInt(want == 200))
			}
		}
	}

	// Upstream responses: Content-Length and 99 or 100 more lines.
	rc := dialRaw(t, p.Listen)
	if r := rc.do("GET /x?lines=99 HTTP/1.1\r\nHost: a\r\n\r\n"); r.Status != 200 {
		t.Errorf("upstream response of 100 lines: %d, want 200", r.Status)
	}
	if r := rc.do("GET /x?lines=100 HTTP/1.1\r\nHost: a\r\n\r\n"); r.Status != 502 {
		t.Errorf("upstream response of 101 lines: %d, want 502", r.Status)
	}
}

func repeatField(name string, n int) []string {
	f := make([]string, 0, 2*n)
	for range n {
		f = append(f, name, "b")
	}
	return f
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestHostTrailingDotMeetsItsRoute: "admin.internal." is the absolute
// form of admin.internal, and any spelling of it (case, port, one trailing
// dot) meets the route guarding admin.internal, exact or wildcard, over
// HTTP/1.1 and h2: refused without credentials, never the open catch-all. A
// host with an empty label is refused. Issue 13, finding 12.
func TestHostTrailingDotMeetsItsRoute(t *testing.T) {
	rec := newRecorder(t)
	p := startProcess(t, hygieneConfig, vars{"rec": rec.URL()})
	_, port, _ := net.SplitHostPort(p.Listen)
	h2c := p.ListenerAddr("h2c")

	var hosts []string
	for _, base := range []string{"admin.internal", "x.corp.internal", "a.b.corp.internal"} {
		for _, spelled := range caseVariants(base) {
			hosts = append(hosts, spelled, spelled+".", spelled+".:"+port, spelled+".:80", spelled+":"+port)
		}
	}
	for _, host := range hosts {
		if r := dialRaw(t, p.Listen).do("GET /x HTTP/1.1\r\nHost: " + host + "\r\n\r\n"); r.Status != 401 {
			t.Errorf("HTTP/1.1 Host %q: %d, want 401 from the guarded route", host, r.Status)
		}
		if got := h2Method(t, h2c, "GET", host, "/x"); got != "401" {
			t.Errorf("h2 :authority %q: %s, want 401 from the guarded route", host, got)
		}
	}
	for _, host := range []string{"admin..internal", ".admin.internal", "admin.internal..", "x..corp.internal"} {
		if r := dialRaw(t, p.Listen).do("GET /x HTTP/1.1\r\nHost: " + host + "\r\n\r\n"); r.Status != 400 {
			t.Errorf("HTTP/1.1 Host %q: %d, want 400", host, r.Status)
		}
	}
	rec.settle(t)
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("%d requests for the guarded hosts reached the upstream through the catch-all", len(got))
	}
	// The catch-all still serves other hosts.
	if r := dialRaw(t, p.Listen).do("GET /x HTTP/1.1\r\nHost: other.internal.\r\n\r\n"); r.Status != 200 {
		t.Errorf("Host other.internal.: %d, want 200 from the catch-all", r.Status)
	}
}
