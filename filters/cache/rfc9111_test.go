package cache

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// step is one request of a case, at a time (seconds after the case's
// first request) and what must come of it.
type step struct {
	at       int64
	method   string // default GET
	path     string // default the case's
	header   map[string]string
	status   int    // default 200
	upstream int    // requests that reached the upstream after this step, in all
	cache    string // a substring of Cache-Status
	body     string // a substring of the body ("-" for none)
	age      string // the Age field, when set
}

type rfcCase struct {
	name  string
	path  string // unique per case; its prefix picks the route
	reply reply
	steps []step
}

var h = func(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// The behaviour table: upstream headers -> stored or not, fresh or stale,
// the 304 paths, Vary. Every step says how many requests the upstream has
// seen, so what the cache answered itself is what never reached it.
var rfcCases = []rfcCase{
	{name: "max-age fresh is a hit with Age", path: "/c/maxage", reply: reply{header: h("Cache-Control", "max-age=60")},
		steps: []step{{upstream: 1, cache: "fwd=uri-miss; stored"}, {at: 30, upstream: 1, cache: "hit; ttl=30", age: "30", body: "#1"}}},
	// Without a validator a stale entry is of no use: the store lets it go
	// when it goes stale, and the next request is a miss.
	{name: "max-age stale without validators is fetched again", path: "/c/stale", reply: reply{header: h("Cache-Control", "max-age=60")},
		steps: []step{{upstream: 1}, {at: 59, upstream: 1, cache: "hit"}, {at: 60, upstream: 2, cache: "fwd=uri-miss", body: "#2"}, {at: 62, upstream: 2, cache: "hit", body: "#2"}}},
	{name: "no-store is not stored", path: "/c/nostore", reply: reply{header: h("Cache-Control", "no-store, max-age=60")},
		steps: []step{{upstream: 1}, {upstream: 2, cache: "fwd=uri-miss"}}},
	{name: "private is not stored by a shared cache", path: "/c/private", reply: reply{header: h("Cache-Control", "private, max-age=60")},
		steps: []step{{upstream: 1}, {upstream: 2}}},
	{name: "s-maxage wins over max-age", path: "/c/smaxage", reply: reply{header: h("Cache-Control", "max-age=0, s-maxage=60")},
		steps: []step{{upstream: 1}, {at: 59, upstream: 1, cache: "hit; ttl=1"}}},
	{name: "Expires minus Date", path: "/c/expires", reply: reply{header: h("Expires", "{now+60}")},
		steps: []step{{upstream: 1}, {at: 30, upstream: 1, cache: "hit"}}},
	{name: "invalid Expires is already expired", path: "/c/expires0", reply: reply{header: h("Expires", "0", "ETag", `"e0"`), notModified: true},
		steps: []step{{upstream: 1}, {upstream: 2, cache: "fwd=stale; fwd-status=304"}}},
	{name: "Age from upstream counts", path: "/c/age", reply: reply{header: h("Cache-Control", "max-age=60", "Age", "50")},
		steps: []step{{upstream: 1}, {at: 5, upstream: 1, age: "55", cache: "ttl=5"}, {at: 11, upstream: 2}}},
	{name: "apparent age from an old Date counts", path: "/c/date", reply: reply{header: h("Cache-Control", "max-age=60", "Date", "{now+-20}")},
		steps: []step{{upstream: 1}, {upstream: 1, age: "20", cache: "ttl=40"}, {at: 40, upstream: 2}}},
	{name: "no explicit freshness and no default_ttl: not stored", path: "/c/silent", reply: reply{},
		steps: []step{{upstream: 1}, {upstream: 2}}},
	{name: "default_ttl where the upstream says nothing", path: "/ttl/silent", reply: reply{},
		steps: []step{{upstream: 1}, {at: 9, upstream: 1, cache: "hit; ttl=1"}, {at: 10, upstream: 2}}},
	{name: "default_ttl never overrides max-age", path: "/ttl/maxage", reply: reply{header: h("Cache-Control", "max-age=2")},
		steps: []step{{upstream: 1}, {at: 3, upstream: 2}}},
	{name: "default_ttl only for heuristically cacheable statuses", path: "/ttl/created", reply: reply{status: 201},
		steps: []step{{status: 201, upstream: 1}, {status: 201, upstream: 2}}},
	{name: "404 is heuristically cacheable", path: "/ttl/missing", reply: reply{status: 404},
		steps: []step{{status: 404, upstream: 1}, {status: 404, upstream: 1, cache: "hit"}}},
	{name: "Authorization: not stored without public", path: "/c/auth", reply: reply{header: h("Cache-Control", "max-age=60")},
		steps: []step{{header: h("Authorization", "Bearer a"), upstream: 1}, {header: h("Authorization", "Bearer b"), upstream: 2}, {upstream: 3}}},
	{name: "Authorization: stored when public", path: "/c/authpublic", reply: reply{header: h("Cache-Control", "public, max-age=60")},
		steps: []step{{header: h("Authorization", "Bearer a"), upstream: 1}, {upstream: 1, cache: "hit"}}},
	{name: "Authorization: stored with s-maxage", path: "/c/authsmax", reply: reply{header: h("Cache-Control", "s-maxage=60")},
		steps: []step{{header: h("Authorization", "Bearer a"), upstream: 1}, {upstream: 1, cache: "hit"}}},
	{name: "Cookie: not stored without public", path: "/c/cookie", reply: reply{header: h("Cache-Control", "max-age=60")},
		steps: []step{{header: h("Cookie", "sid=1"), upstream: 1}, {upstream: 2}}},
	{name: "Set-Cookie: not stored", path: "/c/setcookie", reply: reply{header: h("Cache-Control", "max-age=60", "Set-Cookie", "sid=1")},
		steps: []step{{upstream: 1}, {upstream: 2}}},
	{name: "Set-Cookie: stored without it where configured", path: "/cookies/setcookie", reply: reply{header: h("Cache-Control", "max-age=60", "Set-Cookie", "sid=1")},
		steps: []step{{upstream: 1}, {upstream: 1, cache: "hit"}}},
	{name: "If-None-Match answered 304 from a fresh entry", path: "/c/etag", reply: reply{header: h("Cache-Control", "max-age=60", "ETag", `"v1"`)},
		steps: []step{{upstream: 1}, {at: 10, header: h("If-None-Match", `"v0", "v1"`), status: 304, upstream: 1, cache: "hit", body: "-"},
			{at: 10, header: h("If-None-Match", `"v2"`), upstream: 1, cache: "hit", body: "#1"}}},
	{name: "If-Modified-Since answered 304 from a fresh entry", path: "/c/lm", reply: reply{header: h("Cache-Control", "max-age=60", "Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")},
		steps: []step{{upstream: 1}, {header: h("If-Modified-Since", "Tue, 02 Jan 2024 00:00:00 GMT"), status: 304, upstream: 1},
			{header: h("If-Modified-Since", "Sun, 31 Dec 2023 00:00:00 GMT"), upstream: 1, body: "#1"}}},
	{name: "stale entry revalidated with its ETag; 304 refreshes it", path: "/c/reval", reply: reply{header: h("Cache-Control", "max-age=10", "ETag", `"r1"`), notModified: true},
		steps: []step{{upstream: 1}, {at: 20, upstream: 2, cache: "fwd=stale; fwd-status=304", body: "#1"}, {at: 25, upstream: 2, cache: "hit; ttl=5", body: "#1"}}},
	{name: "revalidation answers the client's own conditional", path: "/c/reval304", reply: reply{header: h("Cache-Control", "max-age=10", "ETag", `"q1"`), notModified: true},
		steps: []step{{upstream: 1}, {at: 20, header: h("If-None-Match", `"q1"`), status: 304, upstream: 2, body: "-"}}},
	{name: "no-cache: stored, revalidated on every use", path: "/c/nocache", reply: reply{header: h("Cache-Control", "no-cache", "ETag", `"n1"`), notModified: true},
		steps: []step{{upstream: 1}, {upstream: 2, cache: "fwd-status=304", body: "#1"}, {upstream: 3, body: "#1"}}},
	{name: "stale-if-error serves stale on 503", path: "/c/sie", reply: reply{header: h("Cache-Control", "max-age=10, stale-if-error=60"), failFrom: 2},
		steps: []step{{upstream: 1}, {at: 20, upstream: 2, cache: "fwd-status=503; ttl=-10; detail=stale-if-error", body: "#1"}, {at: 80, status: 503, upstream: 3}}},
	{name: "must-revalidate: never stale, even on error", path: "/c/mustreval", reply: reply{header: h("Cache-Control", "max-age=10, must-revalidate, stale-if-error=60"), failFrom: 2},
		steps: []step{{upstream: 1}, {at: 20, status: 503, upstream: 2}}},
	{name: "Vary selects a variant; normalized values", path: "/c/vary", reply: reply{header: h("Cache-Control", "max-age=60", "Vary", "Accept-Language")},
		steps: []step{{header: h("Accept-Language", "en, fr"), upstream: 1, cache: "uri-miss"},
			{header: h("Accept-Language", "en,fr"), upstream: 1, cache: "hit"},
			{header: h("Accept-Language", "de"), upstream: 2, cache: "vary-miss"},
			{header: h("Accept-Language", "de"), upstream: 2, cache: "hit", body: "#2"},
			{upstream: 3, cache: "vary-miss"}}},
	{name: "Vary: * is not stored", path: "/c/varystar", reply: reply{header: h("Cache-Control", "max-age=60", "Vary", "*")},
		steps: []step{{upstream: 1}, {upstream: 2}}},
	{name: "request no-cache goes to the upstream", path: "/c/reqnocache", reply: reply{header: h("Cache-Control", "max-age=60")},
		steps: []step{{upstream: 1}, {header: h("Cache-Control", "no-cache"), upstream: 2, cache: "fwd=request"}, {header: h("Pragma", "no-cache"), upstream: 3}, {upstream: 3, cache: "hit"}}},
	{name: "request max-age bounds the age", path: "/c/reqmaxage", reply: reply{header: h("Cache-Control", "max-age=60")},
		steps: []step{{upstream: 1}, {at: 30, header: h("Cache-Control", "max-age=10"), upstream: 2}, {at: 35, header: h("Cache-Control", "max-age=10"), upstream: 2, cache: "hit"}}},
	{name: "request max-stale accepts stale", path: "/c/maxstale", reply: reply{header: h("Cache-Control", "max-age=10", "ETag", `"m"`)},
		steps: []step{{upstream: 1}, {at: 15, header: h("Cache-Control", "max-stale=10"), upstream: 1, cache: "detail=max-stale"}, {at: 30, header: h("Cache-Control", "max-stale=10"), upstream: 2}}},
	{name: "only-if-cached without an entry is 504", path: "/c/onlyif", reply: reply{header: h("Cache-Control", "max-age=60")},
		steps: []step{{header: h("Cache-Control", "only-if-cached"), status: 504, upstream: 0}, {upstream: 1}, {header: h("Cache-Control", "only-if-cached"), upstream: 1, cache: "hit"}}},
	{name: "HEAD is answered from GET's entry", path: "/c/head", reply: reply{header: h("Cache-Control", "max-age=60")},
		steps: []step{{method: "HEAD", upstream: 1, body: "-"}, {upstream: 2}, {method: "HEAD", upstream: 2, cache: "hit", body: "-"}}},
	{name: "a successful POST invalidates", path: "/c/post", reply: reply{header: h("Cache-Control", "max-age=60")},
		steps: []step{{upstream: 1}, {upstream: 1, cache: "hit"}, {method: "POST", upstream: 2}, {upstream: 3, cache: "uri-miss"}}},
	{name: "query: sort, query_exclude", path: "/sorted/q?a=1&b=2", reply: reply{header: h("Cache-Control", "max-age=60")},
		steps: []step{{upstream: 1}, {path: "/sorted/q?b=2&a=1&utm_source=x", upstream: 1, cache: "hit"}, {path: "/sorted/q?a=1", upstream: 2}}},
	{name: "query: ignore", path: "/ignored/q?a=1", reply: reply{header: h("Cache-Control", "max-age=60")},
		steps: []step{{upstream: 1}, {path: "/ignored/q?z=9", upstream: 1, cache: "hit", body: "?a=1 #1"}}},
	{name: "query: all by default", path: "/c/q?a=1&b=2", reply: reply{header: h("Cache-Control", "max-age=60")},
		steps: []step{{upstream: 1}, {path: "/c/q?b=2&a=1", upstream: 2}}},
	{name: "206 is never stored", path: "/c/partial", reply: reply{status: 206, header: h("Cache-Control", "max-age=60")},
		steps: []step{{status: 206, upstream: 1}, {status: 206, upstream: 2}}},
	{name: "explicit freshness stores a 302", path: "/c/found", reply: reply{status: 302, header: h("Cache-Control", "max-age=60", "Location", "/x")},
		steps: []step{{status: 302, upstream: 1}, {status: 302, upstream: 1, cache: "hit"}}},
}

func TestRFC9111Behaviour(t *testing.T) {
	rec := newRecorder(t)
	for _, c := range rfcCases {
		rec.set(strings.SplitN(c.path, "?", 2)[0], c.reply)
	}
	base := serve(t, rec, "")
	for _, c := range rfcCases {
		t.Run(c.name, func(t *testing.T) {
			advance(100_000) // far from every other case's entries
			var now int64
			for i, s := range c.steps {
				advance(s.at - now)
				now = s.at
				path := c.path
				if s.path != "" {
					path = s.path
				}
				method := s.method
				if method == "" {
					method = http.MethodGet
				}
				got := do(t, method, base+path, s.header)
				want := s.status
				if want == 0 {
					want = 200
				}
				at := "step " + strconv.Itoa(i+1)
				if got.status != want {
					t.Errorf("%s: status %d, want %d (Cache-Status %q)", at, got.status, want, got.header.Get("Cache-Status"))
				}
				if n := rec.count(strings.SplitN(path, "?", 2)[0]); n != s.upstream {
					t.Errorf("%s: the upstream saw %d requests, want %d (Cache-Status %q)", at, n, s.upstream, got.header.Get("Cache-Status"))
				}
				if s.cache != "" && !strings.Contains(got.header.Get("Cache-Status"), s.cache) {
					t.Errorf("%s: Cache-Status %q, want it to hold %q", at, got.header.Get("Cache-Status"), s.cache)
				}
				if s.age != "" && got.header.Get("Age") != s.age {
					t.Errorf("%s: Age %q, want %q", at, got.header.Get("Age"), s.age)
				}
				switch {
				case s.body == "-" && got.body != "":
					t.Errorf("%s: body %q, want none", at, got.body)
				case s.body != "" && s.body != "-" && !strings.Contains(got.body, s.body):
					t.Errorf("%s: body %q, want it to hold %q", at, got.body, s.body)
				}
			}
		})
	}
}
