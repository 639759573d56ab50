package e2e

import (
	"net/http"
	"strings"
	"testing"
)

const routingConfig = head + `
upstreams:
  a: { targets: [{ url: "{{.a}}" }] }
  b: { targets: [{ url: "{{.b}}" }] }

filter_chains:
  tag:   # the upstream learns which route matched
    - headers: { request: { set: { X-Route: "{route.name}" } } }

routes:
  - name: exact
    match: { path: /exact }
    filters: [{ chain: tag }]
    upstream: a
  - name: user
    match: { path: "/users/{id}", methods: [GET] }
    filters: [{ chain: tag }]
    rewrite: { path: "/v2/users/{id}" }
    upstream: a
  - name: files
    match: { path: "/files/{rest...}" }
    filters: [{ chain: tag }]
    upstream: a
  - name: strip
    match: { prefix: /api }
    filters: [{ chain: tag }]
    rewrite: { strip_prefix: /api }
    upstream: a
  - name: img
    match: { regex: '/img/(?P<w>[0-9]+)x(?P<h>[0-9]+)\.png' }
    filters:
      - chain: tag
      - headers: { request: { set: { X-Size: "{w}:{h}" } } }
    upstream: a
  - name: host-exact
    match: { hosts: [api.example.com], path: /host }
    filters: [{ chain: tag }]
    upstream: a
  - name: host-wild
    match: { hosts: ["*.example.com"], path: /host }
    filters: [{ chain: tag }]
    upstream: b
  - name: host-any
    match: { path: /host }
    filters: [{ chain: tag }]
    upstream: a
  - name: submit
    match: { path: /submit, methods: [POST, PUT] }
    filters: [{ chain: tag }]
    upstream: a
  - name: beta
    match: { path: /beta, headers: [{ name: X-Beta, value: "1" }] }
    filters: [{ chain: tag }]
    upstream: b
  - name: beta-default
    match: { path: /beta }
    filters: [{ chain: tag }]
    upstream: a
  - name: search-v2
    match: { path: /search, query: [{ name: v, value: "2" }] }
    filters: [{ chain: tag }]
    upstream: b
  - name: search
    match: { path: /search }
    filters: [{ chain: tag }]
    upstream: a
`

func TestRouting(t *testing.T) {
	needBinary(t)
	a, b := newEcho(t, "a"), newEcho(t, "b")
	g := startGateway(t, routingConfig, vars{"a": a.URL, "b": b.URL})

	tests := []struct {
		name     string
		method   string
		host     string
		target   string // path and query as sent
		header   http.Header
		route    string // the route that must have matched
		upstream string
		path     string // the path the upstream must see
		query    string
	}{
		{name: "exact", target: "/exact", route: "exact", upstream: "a", path: "/exact"},
		{name: "template rewritten", target: "/users/42", route: "user", upstream: "a", path: "/v2/users/42"},
		{name: "catch-all", target: "/files/a/b/c.txt", route: "files", upstream: "a", path: "/files/a/b/c.txt"},
		{name: "catch-all root", target: "/files", route: "files", upstream: "a", path: "/files"},
		{name: "prefix stripped", target: "/api/orders/7?x=1", route: "strip", upstream: "a", path: "/orders/7", query: "x=1"},
		{name: "regex", target: "/img/100x200.png", route: "img", upstream: "a", path: "/img/100x200.png"},
		{name: "host exact", host: "api.example.com", target: "/host", route: "host-exact", upstream: "a", path: "/host"},
		{name: "host case and port", host: "API.Example.COM:8080", target: "/host", route: "host-exact", upstream: "a", path: "/host"},
		{name: "host wildcard", host: "x.example.com", target: "/host", route: "host-wild", upstream: "b", path: "/host"},
		{name: "host wildcard deep", host: "a.b.example.com", target: "/host", route: "host-wild", upstream: "b", path: "/host"},
		{name: "host wildcard not apex", host: "example.com", target: "/host", route: "host-any", upstream: "a", path: "/host"},
		{name: "header matcher", target: "/beta", header: http.Header{"X-Beta": {"1"}}, route: "beta", upstream: "b", path: "/beta"},
		{name: "header matcher other value", target: "/beta", header: http.Header{"X-Beta": {"2"}}, route: "beta-default", upstream: "a", path: "/beta"},
		{name: "query matcher", target: "/search?v=2", route: "search-v2", upstream: "b", path: "/search", query: "v=2"},
		{name: "query matcher other value", target: "/search?v=3", route: "search", upstream: "a", path: "/search", query: "v=3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			req := newRequest(t, method, g.URL(tt.target), nil)
			if tt.host != "" {
				req.Host = tt.host
			}
			for k, v := range tt.header {
				req.Header[k] = v
			}
			resp, body := g.Do(req)
			s := decodeSeen(t, resp.StatusCode, body)
			if got := s.Header.Get("X-Route"); got != tt.route {
				t.Errorf("route %q matched, want %q", got, tt.route)
			}
			if s.Upstream != tt.upstream {
				t.Errorf("upstream %q, want %q", s.Upstream, tt.upstream)
			}
			if s.Path != tt.path || s.Query != tt.query {
				t.Errorf("upstream saw %s?%s, want %s?%s", s.Path, s.Query, tt.path, tt.query)
			}
			if s.Method != method {
				t.Errorf("upstream saw method %q, want %q", s.Method, method)
			}
		})
	}

	t.Run("regex params", func(t *testing.T) {
		resp, body := g.Get("/img/640x480.png")
		if got := decodeSeen(t, resp.StatusCode, body).Header.Get("X-Size"); got != "640:480" {
			t.Errorf("X-Size %q, want 640:480 from the regex's named groups", got)
		}
	})

	notFound := []string{"/nope", "/apiary", "/img/ax1.png", "/img/1x2.png/more", "/x/img/1x2.png", "/exact/", "/Exact"}
	for _, path := range notFound {
		t.Run("404 "+path, func(t *testing.T) {
			before := a.hits.Load() + b.hits.Load()
			resp, body := g.Get(path)
			e := checkError(t, resp.StatusCode, resp.Header, body, http.StatusNotFound)
			if !strings.Contains(e.Error, path) {
				t.Errorf("404 error %q does not name the path %s", e.Error, path)
			}
			if n := a.hits.Load() + b.hits.Load(); n != before {
				t.Errorf("a 404 reached an upstream")
			}
		})
	}

	methodNotAllowed := []struct {
		method, path, allow string
	}{
		{"POST", "/users/7", "GET"},
		{"GET", "/submit", "POST, PUT"},
	}
	for _, tt := range methodNotAllowed {
		t.Run("405 "+tt.method+" "+tt.path, func(t *testing.T) {
			resp, body := g.Do(newRequest(t, tt.method, g.URL(tt.path), nil))
			checkError(t, resp.StatusCode, resp.Header, body, http.StatusMethodNotAllowed)
			if got := resp.Header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
		})
	}

	// Method tokens are case-sensitive (RFC 9110 §9.1) and routes match them
	// exactly, but upstreams often fold case: "get" is refused before
	// routing, on routes with methods and without (test/hardening covers
	// every spelling and server.allow_lowercase_methods).
	for _, tt := range []struct{ method, path string }{{"get", "/exact"}, {"get", "/users/7"}, {"post", "/submit"}} {
		t.Run("400 "+tt.method+" "+tt.path, func(t *testing.T) {
			before := a.hits.Load() + b.hits.Load()
			resp, body := g.Do(newRequest(t, tt.method, g.URL(tt.path), nil))
			checkError(t, resp.StatusCode, resp.Header, body, http.StatusBadRequest)
			if n := a.hits.Load() + b.hits.Load(); n != before {
				t.Errorf("a lowercase method reached an upstream")
			}
		})
	}
}
