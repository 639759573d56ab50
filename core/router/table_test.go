package router

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/core/config"
)

type namedMatch struct {
	name  string
	match config.Match
}

func compileNamed(t *testing.T, routes []namedMatch) *Table[string] {
	t.Helper()
	entries := make([]Entry[string], len(routes))
	for i, r := range routes {
		entries[i] = Entry[string]{Match: r.match, Value: r.name}
	}
	tab, err := Compile(entries)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return tab
}

// req describes one request to match and what should come of it.
type req struct {
	method, host, target string // target: path and optional ?query
	scheme               string // "" is http
	version              string
	header               http.Header
	want                 string            // route name; "" for no route
	res                  Result            // defaults to Found when want != "", else NotFound
	params               map[string]string // expected params (nil: none checked)
	allow                []string
}

func (q req) run(t *testing.T, tab *Table[string]) {
	t.Helper()
	method := q.method
	if method == "" {
		method = http.MethodGet
	}
	r := httptest.NewRequest(method, "http://x"+q.target, nil)
	for k, vs := range q.header {
		r.Header[k] = vs
	}
	path, _, _ := strings.Cut(q.target, "?")
	var ps Params
	scheme := q.scheme
	if scheme == "" {
		scheme = "http"
	}
	got, res, allow := tab.Match(r, Facts{Scheme: scheme, Version: q.version}, q.host, path, &ps)
	wantRes := q.res
	if wantRes == NotFound && q.want != "" {
		wantRes = Found
	}
	if res == MethodNotAllowed && wantRes == MethodNotAllowed {
		// v is then a route that failed only on its method (for CORS
		// preflights); which one may depend on config order.
		if got == "" {
			t.Errorf("%s %s%s: 405 without the route that failed on its method", method, q.host, q.target)
		}
	} else if got != q.want || res != wantRes {
		t.Errorf("%s %s%s: got %q (%v); want %q (%v)", method, q.host, q.target, got, res, q.want, wantRes)
		return
	}
	if q.params != nil {
		gotParams := map[string]string{}
		for _, p := range ps {
			gotParams[p.Name] = p.Value
		}
		if len(ps) != len(q.params) || !equalMaps(gotParams, q.params) {
			t.Errorf("%s %s%s: params %v; want %v", method, q.host, q.target, ps, q.params)
		}
	}
	if !slices.Equal(allow, q.allow) {
		t.Errorf("%s %s%s: allow %v; want %v", method, q.host, q.target, allow, q.allow)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// checkAllOrders runs the requests against the routes in the given order
// and reversed, since priority must not depend on config order unless the
// routes tie.
func checkAllOrders(t *testing.T, routes []namedMatch, reqs []req) {
	t.Helper()
	for _, reversed := range []bool{false, true} {
		rs := slices.Clone(routes)
		if reversed {
			slices.Reverse(rs)
		}
		tab := compileNamed(t, rs)
		for _, q := range reqs {
			q.run(t, tab)
		}
	}
}

func TestPathPriority(t *testing.T) {
	routes := []namedMatch{
		{"me", config.Match{Path: "/users/me"}},
		{"id", config.Match{Path: "/users/{id}"}},
		{"posts", config.Match{Path: "/users/{name}/posts"}},
		{"new", config.Match{Path: "/users/new"}},
		{"users-rest", config.Match{Path: "/users/{rest...}"}},
		{"users-slash", config.Match{Path: "/users/"}},
		{"api", config.Match{Prefix: "/api"}},
		{"api-v1", config.Match{Prefix: "/api/v1"}},
		{"api-v1-slash", config.Match{Prefix: "/api/v1/"}},
		{"api-exact", config.Match{Path: "/api/v1/{a}/{b}"}},
		{"re", config.Match{Regex: `/api/v1/re(?P<n>[0-9]+)`}},
		{"root", config.Match{Path: "/"}},
		{"static-tail", config.Match{Path: "/t/{a}/x"}},
		{"param-tail", config.Match{Path: "/t/b/{c}"}},
	}
	checkAllOrders(t, routes, []req{
		{target: "/users/me", want: "me", params: map[string]string{}},
		{target: "/users/new", want: "new"},
		{target: "/users/42", want: "id", params: map[string]string{"id": "42"}},
		{target: "/users/42/posts", want: "posts", params: map[string]string{"name": "42"}},
		{target: "/users/me/posts", want: "posts", params: map[string]string{"name": "me"}},
		{target: "/users/42/other", want: "users-rest", params: map[string]string{"rest": "42/other"}},
		{target: "/users/", want: "users-slash"},
		{target: "/users", want: "users-rest", params: map[string]string{"rest": ""}},
		{target: "/users/a/b/", want: "users-rest", params: map[string]string{"rest": "a/b/"}},
		// Exact and templated paths come before regexes, regexes before prefixes.
		{target: "/api/v1/x/y", want: "api-exact", params: map[string]string{"a": "x", "b": "y"}},
		{target: "/api/v1/re12", want: "re", params: map[string]string{"n": "12"}},
		{target: "/api/v1/re12/z", want: "api-exact"},
		{target: "/api/v1/rex", want: "api-v1-slash"},
		{target: "/api/v1/", want: "api-v1-slash"},
		{target: "/api/v1", want: "api-v1"},
		{target: "/api/v2", want: "api"},
		{target: "/api", want: "api"},
		{target: "/api/", want: "api"},
		{target: "/apiary", want: ""},
		{target: "/", want: "root"},
		// At the first segment where they differ, static beats param.
		{target: "/t/b/x", want: "param-tail", params: map[string]string{"c": "x"}},
		{target: "/t/q/x", want: "static-tail", params: map[string]string{"a": "q"}},
		{target: "/nothing", want: ""},
	})
}

func TestParamsDoNotMatchEmptySegments(t *testing.T) {
	tab := compileNamed(t, []namedMatch{{"id", config.Match{Path: "/users/{id}"}}})
	req{target: "/users/", want: ""}.run(t, tab)
	req{target: "/users//", want: ""}.run(t, tab)
	req{target: "/users/x/", want: ""}.run(t, tab)
}

func TestAnyPathAndPrefixRoot(t *testing.T) {
	routes := []namedMatch{
		{"any", config.Match{}},
		{"files", config.Match{Path: "/files/{p...}"}},
	}
	checkAllOrders(t, routes, []req{
		{target: "/", want: "any"},
		{target: "/x/y", want: "any"},
		{target: "/files", want: "files", params: map[string]string{"p": ""}},
		{target: "/files/", want: "files", params: map[string]string{"p": ""}},
		{target: "/files/a/b", want: "files", params: map[string]string{"p": "a/b"}},
		{target: "/filesx", want: "any"},
	})
	tab := compileNamed(t, []namedMatch{{"all", config.Match{Path: "/{all...}"}}})
	req{target: "/", want: "all", params: map[string]string{"all": ""}}.run(t, tab)
	req{target: "/a%20b/c", want: "all", params: map[string]string{"all": "a%20b/c"}}.run(t, tab)
}

func TestCatchAllAfterParam(t *testing.T) {
	tab := compileNamed(t, []namedMatch{{"r", config.Match{Path: "/u/{id}/{rest...}"}}})
	req{target: "/u/7", want: "r", params: map[string]string{"id": "7", "rest": ""}}.run(t, tab)
	req{target: "/u/7/a/b", want: "r", params: map[string]string{"id": "7", "rest": "a/b"}}.run(t, tab)
	req{target: "/u", want: ""}.run(t, tab)
}

func TestHosts(t *testing.T) {
	routes := []namedMatch{
		{"exact", config.Match{Hosts: []string{"API.example.com"}, Path: "/x"}},
		{"exact-only-y", config.Match{Hosts: []string{"api.example.com"}, Path: "/y"}},
		{"wild", config.Match{Hosts: []string{"*.example.com"}, Path: "/x"}},
		{"wild-deep", config.Match{Hosts: []string{"*.eu.example.com"}, Path: "/x"}},
		{"wild-z", config.Match{Hosts: []string{"*.example.com"}, Path: "/z"}},
		{"any", config.Match{Prefix: "/"}},
		{"two", config.Match{Hosts: []string{"a.test", "b.test"}, Path: "/x"}},
		// Configured in absolute form: the same name as without the dot.
		{"dotted", config.Match{Hosts: []string{"Admin.Internal."}, Path: "/x"}},
	}
	checkAllOrders(t, routes, []req{
		{host: "api.example.com", target: "/x", want: "exact"},
		{host: "api.example.com", target: "/y", want: "exact-only-y"},
		// Falls back to the wildcard, then to any host, when the exact host has no match.
		{host: "api.example.com", target: "/z", want: "wild-z"},
		{host: "api.example.com", target: "/q", want: "any"},
		{host: "www.example.com", target: "/x", want: "wild"},
		{host: "a.b.example.com", target: "/x", want: "wild"},
		{host: "x.eu.example.com", target: "/x", want: "wild-deep"},
		{host: "eu.example.com", target: "/x", want: "wild"},
		{host: "example.com", target: "/x", want: "any"},
		{host: "other.org", target: "/x", want: "any"},
		{host: "", target: "/x", want: "any"},
		{host: "a.test", target: "/x", want: "two"},
		{host: "b.test", target: "/x", want: "two"},
		{host: "c.test", target: "/x", want: "any"},
		{host: "admin.internal", target: "/x", want: "dotted"},
	})
}

func TestMethods(t *testing.T) {
	routes := []namedMatch{
		{"get", config.Match{Path: "/items/{id}", Methods: []string{"GET", "HEAD"}}},
		{"put", config.Match{Path: "/items/{id}", Methods: []string{"PUT", "GET"}}},
		{"post", config.Match{Path: "/items", Methods: []string{"POST"}}},
		{"lower", config.Match{Path: "/lower", Methods: []string{"get"}}},
		{"open", config.Match{Prefix: "/open"}},
		{"open-get", config.Match{Path: "/open/x", Methods: []string{"GET"}}},
		{"hdr", config.Match{Path: "/h", Methods: []string{"POST"}, Headers: []config.ValueMatch{{Name: "X-A"}}}},
	}
	checkAllOrders(t, routes, []req{
		{method: "PUT", target: "/items/1", want: "put", params: map[string]string{"id": "1"}},
		{method: "HEAD", target: "/items/1", want: "get"},
		{method: "DELETE", target: "/items/1", res: MethodNotAllowed, allow: []string{"GET", "HEAD", "PUT"}},
		{method: "GET", target: "/items", res: MethodNotAllowed, allow: []string{"POST"}},
		{method: "GET", target: "/lower", res: MethodNotAllowed, allow: []string{"get"}},
		{method: "get", target: "/lower", want: "lower"},
		// A route that fails on the method does not hide a broader one.
		{method: "POST", target: "/open/x", want: "open"},
		{method: "GET", target: "/open/x", want: "open-get"},
		{method: "GET", target: "/none", want: ""},
		// Only a route that fails on nothing but its method makes a 405.
		{method: "GET", target: "/h", want: ""},
		{method: "GET", target: "/h", header: http.Header{"X-A": {"1"}}, res: MethodNotAllowed, allow: []string{"POST"}},
	})
}

func TestHeaderAndQueryMatchers(t *testing.T) {
	routes := []namedMatch{
		{"v2", config.Match{Path: "/r", Headers: []config.ValueMatch{{Name: "x-version", Value: "2"}}}},
		{"beta", config.Match{Path: "/r", Headers: []config.ValueMatch{{Name: "X-Beta"}}}},
		{"no-auth", config.Match{Path: "/r", Headers: []config.ValueMatch{{Name: "Authorization", Absent: true}}}},
		{"plain", config.Match{Path: "/r"}},
		{"re", config.Match{Path: "/q", Query: []config.ValueMatch{{Name: "id", Regex: `[0-9]+`}}}},
		{"debug", config.Match{Path: "/q", Query: []config.ValueMatch{{Name: "debug"}, {Name: "id", Value: "7"}}}},
		{"q-plain", config.Match{Path: "/q"}},
	}
	checkAllOrders(t, routes, []req{
		{target: "/r", header: http.Header{"X-Version": {"2"}, "Authorization": {"x"}}, want: "v2"},
		{target: "/r", header: http.Header{"X-Version": {"1", "2"}, "Authorization": {"x"}}, want: "v2"},
		{target: "/r", header: http.Header{"X-Beta": {""}, "Authorization": {"x"}}, want: "beta"},
		{target: "/r", header: http.Header{"Authorization": {"x"}}, want: "plain"},
		{target: "/r", want: "no-auth"},
		{target: "/q?id=42", want: "re"},
		{target: "/q?id=42x", want: "q-plain"},
		{target: "/q?debug&id=7", want: "debug"},
		{target: "/q?debug=1&id=8", want: "re"},
		{target: "/q?i%64=9", want: "re"},
		{target: "/q", want: "q-plain"},
	})
}

// TestConfigOrderBreaksTies is the one place config order decides.
func TestConfigOrderBreaksTies(t *testing.T) {
	routes := []namedMatch{
		{"first", config.Match{Path: "/same/{a}"}},
		{"second", config.Match{Path: "/same/{b}"}},
		{"re1", config.Match{Regex: `/re/.*`}},
		{"re2", config.Match{Regex: `/re/x`}},
	}
	tab := compileNamed(t, routes)
	req{target: "/same/x", want: "first", params: map[string]string{"a": "x"}}.run(t, tab)
	req{target: "/re/x", want: "re1"}.run(t, tab)
	slices.Reverse(routes)
	tab = compileNamed(t, routes)
	req{target: "/same/x", want: "second", params: map[string]string{"b": "x"}}.run(t, tab)
	req{target: "/re/x", want: "re2"}.run(t, tab)
}

func TestRegexRoutes(t *testing.T) {
	tab := compileNamed(t, []namedMatch{
		{"img", config.Match{Regex: `/img/(?P<w>[0-9]+)x(?P<h>[0-9]+)(?:\.(?P<ext>png|jpg))?`}},
		{"anchored", config.Match{Regex: `/a`}},
	})
	req{target: "/img/10x20.png", want: "img", params: map[string]string{"w": "10", "h": "20", "ext": "png"}}.run(t, tab)
	req{target: "/img/10x20", want: "img", params: map[string]string{"w": "10", "h": "20", "ext": ""}}.run(t, tab)
	req{target: "/a", want: "anchored"}.run(t, tab)
	req{target: "/ab", want: ""}.run(t, tab)
	req{target: "/x/a", want: ""}.run(t, tab)
}

func TestManyStaticChildrenUseIndex(t *testing.T) {
	var routes []namedMatch
	for i := range 50 {
		routes = append(routes, namedMatch{"s" + itoa(i), config.Match{Path: "/k/s" + itoa(i)}})
	}
	routes = append(routes, namedMatch{"p", config.Match{Path: "/k/{x}"}})
	tab := compileNamed(t, routes)
	req{target: "/k/s17", want: "s17"}.run(t, tab)
	req{target: "/k/s49", want: "s49"}.run(t, tab)
	req{target: "/k/zz", want: "p"}.run(t, tab)
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestMatchAllocations(t *testing.T) {
	tab := compileNamed(t, []namedMatch{
		{"static", config.Match{Hosts: []string{"api.example.com"}, Path: "/api/v1/items", Methods: []string{"GET"}}},
		{"param", config.Match{Path: "/api/v1/items/{id}/parts/{part}"}},
		{"prefix", config.Match{Prefix: "/static/"}},
		{"wild", config.Match{Hosts: []string{"*.example.com"}, Path: "/w/{x...}"}},
	})
	r := httptest.NewRequest("GET", "http://x/", nil)
	ps := make(Params, 0, 8)
	for _, c := range []struct{ name, host, path string }{
		{"static", "api.example.com", "/api/v1/items"},
		{"param", "api.example.com", "/api/v1/items/7/parts/9"},
		{"prefix", "other", "/static/a/b.css"},
		{"wild", "a.example.com", "/w/x/y"},
	} {
		allocs := testing.AllocsPerRun(200, func() {
			if v, res, _ := tab.Match(r, Facts{Scheme: "http"}, c.host, c.path, &ps); res != Found || v != c.name {
				t.Fatalf("%s: got %q %v", c.name, v, res)
			}
		})
		if allocs != 0 {
			t.Errorf("%s match: %v allocs; want 0", c.name, allocs)
		}
	}
}

func TestNilParams(t *testing.T) {
	tab := compileNamed(t, []namedMatch{{"p", config.Match{Path: "/a/{x}"}}})
	r := httptest.NewRequest("GET", "http://x/", nil)
	if v, res, _ := tab.Match(r, Facts{Scheme: "http"}, "", "/a/b", nil); v != "p" || res != Found {
		t.Errorf("got %q %v", v, res)
	}
	if _, res, _ := tab.Match(r, Facts{Scheme: "http"}, "", "a/b", nil); res != NotFound {
		t.Errorf("non-canonical path: got %v", res)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		match      config.Match
		field, msg string // msg: a fragment of the message
	}{
		{config.Match{Path: "/a", Prefix: "/b"}, "routes[1].match", "only one of"},
		{config.Match{Path: "a"}, "routes[1].match.path", "must start with /"},
		{config.Match{Path: "/a/x{id}"}, "routes[1].match.path", "whole segment"},
		{config.Match{Path: "/a/{1d}"}, "routes[1].match.path", "parameter name"},
		{config.Match{Path: "/a/{id}/{id}"}, "routes[1].match.path", "appears twice"},
		{config.Match{Path: "/a/{r...}/b"}, "routes[1].match.path", "last segment"},
		{config.Match{Path: "/a/../b"}, "routes[1].match.path", `write it as "/b"`},
		{config.Match{Path: "/a%2fb"}, "routes[1].match.path", "encoded slash"},
		{config.Match{Path: "/a?x=1"}, "routes[1].match.path", "no query"},
		{config.Match{Prefix: "/a/{x}"}, "routes[1].match.prefix", "literal"},
		{config.Match{Prefix: "api"}, "routes[1].match.prefix", "must start with /"},
		{config.Match{Regex: "/a("}, "routes[1].match.regex", "missing closing"},
		{config.Match{Regex: "/(?P<a>x)/(?P<a>y)"}, "routes[1].match.regex", "twice"},
		{config.Match{Hosts: []string{"a.com:8080"}}, "routes[1].match.hosts[0]", "port"},
		{config.Match{Hosts: []string{"ok.com", "a.*.com"}}, "routes[1].match.hosts[1]", "leading"},
		{config.Match{Hosts: []string{"*"}}, "routes[1].match.hosts[0]", "leave hosts empty"},
		{config.Match{Hosts: []string{"a..com"}}, "routes[1].match.hosts[0]", "not a host name"},
		{config.Match{Hosts: []string{"a.com.."}}, "routes[1].match.hosts[0]", "not a host name"},
		{config.Match{Methods: []string{"GET", "BAD METHOD"}}, "routes[1].match.methods[1]", "token"},
		{config.Match{Headers: []config.ValueMatch{{Value: "x"}}}, "routes[1].match.headers[0].name", "required"},
		{config.Match{Headers: []config.ValueMatch{{Name: "a b"}}}, "routes[1].match.headers[0].name", "header name"},
		{config.Match{Headers: []config.ValueMatch{{Name: "a", Value: "x", Regex: "y"}}}, "routes[1].match.headers[0]", "not both"},
		{config.Match{Query: []config.ValueMatch{{Name: "a", Regex: "("}}}, "routes[1].match.query[0].regex", "missing"},
		{config.Match{Query: []config.ValueMatch{{Name: "a", Value: "1", Absent: true}}}, "routes[1].match.query[0].absent", "absent"},
		{config.Match{Scheme: "HTTPS"}, "routes[1].match.scheme", "want http or https"},
	}
	for _, tt := range tests {
		_, err := Compile([]Entry[int]{{Match: config.Match{Path: "/ok"}}, {Match: tt.match}})
		if err == nil {
			t.Errorf("%+v: compiled; want an error", tt.match)
			continue
		}
		field, msg, ok := config.AsFieldErr(err)
		if !ok || field != tt.field || !strings.Contains(msg, tt.msg) {
			t.Errorf("%+v: error %q (field %q); want field %q and %q", tt.match, err, field, tt.field, tt.msg)
		}
	}
}

// TestCompileReportsEveryError checks that all problems come back at once,
// each as its own FieldErr, so a config is fixed in one round.
func TestCompileReportsEveryError(t *testing.T) {
	_, err := Compile([]Entry[int]{
		{Match: config.Match{Path: "bad"}},
		{Match: config.Match{Path: "/ok"}},
		{Match: config.Match{Prefix: "bad", Methods: []string{""}}},
	})
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error %v is not a joined list", err)
	}
	var fields []string
	for _, e := range joined.Unwrap() {
		f, _, ok := config.AsFieldErr(e)
		if !ok {
			t.Fatalf("%v is not a FieldErr", e)
		}
		fields = append(fields, f)
	}
	want := []string{"routes[0].match.path", "routes[2].match.prefix", "routes[2].match.methods[0]"}
	if !slices.Equal(fields, want) {
		t.Errorf("fields %v; want %v", fields, want)
	}
}

func TestResultString(t *testing.T) {
	for res, want := range map[Result]string{Found: "found", NotFound: "not found", MethodNotAllowed: "method not allowed"} {
		if res.String() != want {
			t.Errorf("%d: %q", res, res.String())
		}
	}
}

// A scheme condition counts like a header matcher: among routes on one path
// the conditioned one is tried first, and a request of the other scheme
// falls through to the next.
func TestSchemeCondition(t *testing.T) {
	tab := compileNamed(t, []namedMatch{
		{"any", config.Match{Prefix: "/"}},
		{"plain", config.Match{Prefix: "/", Scheme: "http"}},
		{"secure", config.Match{Path: "/login", Scheme: "https"}},
	})
	for _, q := range []req{
		{target: "/x", want: "plain"},
		{target: "/x", scheme: "https", want: "any"},
		{target: "/login", scheme: "https", want: "secure"},
		{target: "/login", want: "plain"},
	} {
		q.run(t, tab)
	}
}

// A route with a version matches only requests that name it (in any
// spelling NormalizeVersion folds together); one without a version matches
// whatever the request names.
func TestVersionCondition(t *testing.T) {
	tab, err := Compile([]Entry[string]{
		{Match: config.Match{Prefix: "/users"}, Value: "v1", Version: "v1"},
		{Match: config.Match{Prefix: "/users"}, Value: "v2", Version: "2"},
		{Match: config.Match{Prefix: "/"}, Value: "any"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []req{
		{target: "/users/7", version: "v1", want: "v1"},
		{target: "/users/7", version: "v2", want: "v2"},
		{target: "/users/7", version: "v3", want: "any"},
		{target: "/users/7", want: "any"},
	} {
		q.run(t, tab)
	}
	for in, want := range map[string]string{"2": "v2", "V2": "v2", " v2.1 ": "v2.1", "beta": "beta", "": ""} {
		if got := NormalizeVersion(in); got != want {
			t.Errorf("NormalizeVersion(%q) = %q, want %q", in, got, want)
		}
	}
}
