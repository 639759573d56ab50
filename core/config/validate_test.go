package config

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"missing listener", `
routes: []
`, []string{`gw.yaml:1:1: listeners: at least one listener is required, e.g. listeners: [{address: ":8080"}]`}},
		{"duplicate route names", minimal + `
  - name: users
    respond: {status: 204}
`, []string{`gw.yaml:10:5: routes[1].name: route name "users" is already used by routes[0]; names must be unique`}},
		{"unknown upstream", `
listeners: [{address: ":8080"}]
upstreams:
  users: {targets: [{url: "http://127.0.0.1:1"}]}
  orders: {targets: [{url: "http://127.0.0.1:2"}]}
routes:
  - name: r
    upstream: user
`, []string{`gw.yaml:7:5: routes[0].upstream: unknown upstream "user"; valid upstreams: orders, users; did you mean "users"?`}},
		{"listener problems", `
listeners:
  - address: "8080"
  - address: ":8080"
    h2c: true
    tls: {client_auth: require, min_version: "1.1"}
  - address: ":8080"
admin: {address: "localhost"}
server: {underscore_headers: keep}
`, []string{
			`gw.yaml:2:5: listeners[0].address: "8080" is not host:port; want host:port, e.g. ":8080" or "127.0.0.1:8080"`,
			`gw.yaml:4:5: listeners[1].h2c: h2c is HTTP/2 without TLS and this listener has tls; remove h2c (tls.http2 offers h2 over TLS)`,
			`gw.yaml:5:5: listeners[1].tls.certificates: at least one certificate is required, e.g. certificates: [{cert: server.pem, key: server.key}]`,
			`gw.yaml:5:11: listeners[1].tls.client_auth: client_auth require needs client_ca, the PEM bundle client certificates are verified against`,
			`gw.yaml:5:33: listeners[1].tls.min_version: "1.1" is not valid; valid values: 1.2, 1.3`,
			`gw.yaml:6:5: listeners[2].address: address ":8080" is already used by listeners[1]; each listener needs its own`,
			`gw.yaml:7:9: admin.address: "localhost" is not host:port; want host:port, e.g. ":8080" or "127.0.0.1:8080", or "off" to disable the admin API`,
			`gw.yaml:8:10: server.underscore_headers: "keep" is not valid; valid values: drop, reject, allow`,
		}},
		{"port-0 listeners told apart by name", `
listeners:
  - address: "127.0.0.1:0"
  - { name: second, address: "127.0.0.1:0" }
  - address: "127.0.0.1:0"
`, []string{
			`gw.yaml:4:5: listeners[2].name: listeners[0] also binds "127.0.0.1:0"; give each port-0 listener its own name`,
		}},
		{"routes", `
listeners: [{address: ":8080"}]
upstreams:
  u: {targets: [{url: "ftp://x"}, {url: "http://a:1?x=1", weight: -1}], balancer: random, protocol: h3}
routes:
  - match: {path: users, prefix: /u, methods: [GET, "BAD METHOD", get]}
  - name: "bad name"
    upstream: u
    respond: {status: 99}
    match:
      headers: [{value: x, regex: "("}]
      query: [{name: q, absent: true, value: "1"}]
      regex: "[a-"
    rewrite: {strip_prefix: api}
`, []string{
			`gw.yaml:3:18: upstreams.u.targets[0].url: "ftp://x": the scheme must be http or https; want http://host:port or https://host:port, optionally with a base path`,
			`gw.yaml:3:36: upstreams.u.targets[1].url: "http://a:1?x=1" must not have a query or fragment; want http://host:port or https://host:port, optionally with a base path`,
			`gw.yaml:3:59: upstreams.u.targets[1].weight: -1 is negative; use a positive number (0 means the default)`,
			`gw.yaml:3:73: upstreams.u.balancer: "random" is not valid; valid values: round_robin, weighted, least_conn, p2c_ewma, consistent_hash`,
			`gw.yaml:3:91: upstreams.u.protocol: "h3" is not valid; valid values: http1, h2c, auto`,
			`gw.yaml:5:5: routes[0].name: a route needs a name (letters, digits, '_', '.', '-'), unique among routes`,
			`gw.yaml:5:5: routes[0].match: path, prefix and regex are exclusive; set at most one`,
			`gw.yaml:5:5: routes[0]: a route needs a target: upstream: <name>, split: [{upstream: <name>, weight: N}, ...], respond: {status: 200}, redirect: {location: /new} or aggregate: {calls: [...]}`,
			`gw.yaml:5:13: routes[0].match.path: "users" must start with "/"`,
			`gw.yaml:5:53: routes[0].match.methods[1]: "BAD METHOD" is not a valid HTTP method (a token like GET or PURGE)`,
			`gw.yaml:5:67: routes[0].match.methods[2]: "get" would never match: requests with lowercase methods are refused; write "GET", or set server.allow_lowercase_methods`,
			`gw.yaml:6:5: routes[1].name: route name "bad name" is not valid; use letters, digits, '_', '.' and '-'`,
			`gw.yaml:8:5: routes[1].respond: upstream and respond are exclusive targets; keep one`,
			`gw.yaml:10:17: routes[1].match.headers[0].name: a name is required`,
			`gw.yaml:10:17: routes[1].match.headers[0]: value, regex and absent are exclusive; set at most one (none: the name must be present)`,
			`gw.yaml:10:28: routes[1].match.headers[0].regex: "(" is not a valid RE2 regular expression: missing closing ): ` + "`(`",
			`gw.yaml:11:15: routes[1].match.query[0]: value, regex and absent are exclusive; set at most one (none: the name must be present)`,
			`gw.yaml:12:7: routes[1].match.regex: "[a-" is not a valid RE2 regular expression: missing closing ]: ` + "`[a-`",
			`gw.yaml:13:15: routes[1].rewrite.strip_prefix: "api" must start with "/", e.g. /api`,
		}},
		{"grpc health checks", `
listeners: [{address: ":8080"}]
upstreams:
  a: {targets: [{url: "http://a:1"}], health: {active: {grpc: {service: x}}}}
  b: {targets: [{url: "http://b:1"}], protocol: h2c, health: {active: {grpc: {}, path: /h}}}
  c: {targets: [{url: "http://c:1"}], protocol: h2c, health: {active: {grpc: {service: x}}}}
routes:
  - {name: r, upstream: c}
`, []string{
			`gw.yaml:3:57: upstreams.a.health.active.grpc: gRPC needs HTTP/2: set the upstream's protocol to h2c (or auto with https targets)`,
			`gw.yaml:4:72: upstreams.b.health.active.grpc: path and grpc are exclusive: a gRPC health check calls /grpc.health.v1.Health/Check`,
		}},
		{"dns resolver", `
listeners: [{address: ":8080"}]
upstreams:
  a: {targets: [{url: "http://a:1"}], dns: {refresh: 5s, resolver: "dns.internal:53"}}
  b: {targets: [{url: "http://b:1"}], dns: {resolver: "127.0.0.1:8600"}}
  c: {targets: [{url: "http://c:1"}], dns: {refresh: 5s, resolver: "[::1]:53"}}
routes: [{name: r, upstream: c}]
`, []string{
			`gw.yaml:3:58: upstreams.a.dns.resolver: "dns.internal:53" is not an IP address and port; give the DNS server as ip:port, e.g. 127.0.0.1:8600 or [::1]:53`,
			`gw.yaml:4:45: upstreams.b.dns.resolver: a resolver is asked only by the refresh: set dns.refresh too, e.g. refresh: 30s`,
		}},
		{"local response headers", `
listeners: [{address: ":8080"}]
routes:
  - name: r
    respond: {status: 200, headers: {"X-Ok": "a\tb", "X-Split": "a\r\nSet-Cookie: x=1", "Bad Name": "v"}}
`, []string{
			`gw.yaml:4:54: routes[0].respond.headers.X-Split: the value holds a control character (byte 1); a header value is printable text`,
			`gw.yaml:4:89: routes[0].respond.headers.Bad Name: "Bad Name" is not a valid header name (RFC 9110 token: letters, digits and !#$%&'*+-.^_` + "`" + `|~)`,
		}},
		{"engine", `
listeners: [{address: ":8080"}]
upstreams:
  u: {targets: [{url: "http://a:1"}], protocol: h2c, engine: native}
  v: {targets: [{url: "http://a:1"}], engine: fast}
routes: [{name: r, upstream: u}]
`, []string{
			`gw.yaml:3:54: upstreams.u.engine: engine native speaks HTTP/1.1 only; protocol h2c needs engine std (or leave engine out)`,
			`gw.yaml:4:39: upstreams.v.engine: "fast" is not valid; valid values: native, std`,
		}},
		{"versioning and deprecation", `
listeners: [{address: ":8080"}]
versioning: {by: headr, default: "v 2"}
routes:
  - {name: a, version: "v/2", respond: {}}
  - {name: b, respond: {}, deprecation: {sunset: "2027-13-01", link: "/docs", status: 200}}
  - {name: c, respond: {}, deprecation: {at: 2027-06-30, sunset: 2027-01-01}}
`, []string{
			`gw.yaml:2:14: versioning.by: "headr" is not valid; valid values: path, header, query, media_type`,
			`gw.yaml:2:25: versioning.default: "v 2" is not a version: letters, digits, '.', '-' and '_', like v2`,
			`gw.yaml:4:15: routes[0].version: "v/2" is not a version: letters, digits, '.', '-' and '_', like v2`,
			`gw.yaml:5:28: routes[1].deprecation.at: say when the route is (or was) deprecated: at: 2027-01-01 (RFC 9745's Deprecation header carries the date)`,
			`gw.yaml:5:42: routes[1].deprecation.sunset: "2027-13-01" is not a date: write 2027-06-30 or an RFC 3339 time`,
			`gw.yaml:5:64: routes[1].deprecation.link: "/docs" is not an absolute http(s) URL`,
			`gw.yaml:5:79: routes[1].deprecation.status: 200: the answer after the sunset is an error status (400 to 599; default 410)`,
			`gw.yaml:6:58: routes[2].deprecation.sunset: the sunset (2027-01-01) must come after the deprecation (2027-06-30)`,
		}},
		{"redirects", `
listeners: [{address: ":8080"}]
routes:
  - {name: a, redirect: {status: 200, location: "new"}}
  - {name: b, redirect: {location: "https://x.example.com/", https: true}}
  - {name: c, redirect: {port: 8443}}
  - {name: d, redirect: {https: true, port: 70000, location: "//evil.example"}}
  - {name: e, redirect: {}, respond: {}}
  - {name: f, match: {scheme: https}, redirect: {https: true}}
`, []string{
			`gw.yaml:3:26: routes[0].redirect.status: 200 is not a redirect status; valid: 301, 302 (the default), 303, 307, 308`,
			`gw.yaml:3:39: routes[0].redirect.location: "new" is neither a path (starting with "/") nor an absolute http:// or https:// URL`,
			`gw.yaml:4:62: routes[1].redirect.https: https applies to a location that is a path; the location "https://x.example.com/" names its own scheme`,
			`gw.yaml:5:26: routes[2].redirect.port: port applies with https: true (the port of the https:// location)`,
			`gw.yaml:6:39: routes[3].redirect.port: 70000 is not a port; valid: 1 to 65535`,
			`gw.yaml:6:52: routes[3].redirect.location: "//evil.example" is a scheme-relative URL; write the scheme (https://host/path) or a path`,
			`gw.yaml:7:15: routes[4].redirect: respond and redirect are exclusive targets; keep one`,
			`gw.yaml:8:23: routes[5].match.scheme: this route upgrades to https the URL it was asked for; matching https requests would send a client to itself forever (leave scheme out: an upgrade matches http only)`,
		}},
		{"filter chains", minimal + `    filters:
      - chain: auht
      - chain: {x: 1}
filter_chains:
  auth:
    - chain: base
  base:
    - headers: {}
    - chain: auth
`, []string{
			`gw.yaml:10:9: routes[0].filters[0].chain: unknown filter chain "auht"; valid chains: auth, base; did you mean "auth"?`,
			`gw.yaml:11:17: routes[0].filters[1].chain.x: unknown field "x"; valid: name, exclude, replace`,
			`gw.yaml:17:7: filter_chains.base[1].chain: filter chains include each other in a cycle: auth -> base -> auth; a chain cannot include itself`,
		}},
		{"filter chain exclude and replace", minimal + `    filters:
      - chain: { name: base, exclude: [corz], replace: { rate_limt: {rate: 5/s} } }
      - chain: { name: base, exclude: [cors], replace: { cors: {} } }
      - chain: { name: twice, replace: { cors: {} } }
      - chain: { nam: base }
      - chain: { name: bsae, exclude: cors }
filter_chains:
  base:
    - cors: {}
    - rate_limit: { rate: 1/s }
  twice:
    - chain: base
    - cors: {}
`, []string{
			`gw.yaml:10:40: routes[0].filters[0].chain.exclude[0]: filter chain "base" has no corz filter to exclude; its filters: cors, rate_limit; did you mean "cors"?`,
			`gw.yaml:10:58: routes[0].filters[0].chain.replace.rate_limt: filter chain "base" has no rate_limt filter to replace; its filters: cors, rate_limit; did you mean "rate_limit"?`,
			`gw.yaml:11:58: routes[0].filters[1].chain.replace.cors: cors is both excluded and replaced; keep one`,
			`gw.yaml:12:42: routes[0].filters[2].chain.replace.cors: filter chain "twice" has 2 cors filters, so which one to replace is unclear; exclude cors and add the ones this route needs after the chain`,
			`gw.yaml:13:18: routes[0].filters[3].chain.nam: unknown field "nam"; valid: name, exclude, replace; did you mean "name"?`,
			`gw.yaml:14:30: routes[0].filters[4].chain.exclude: a list of filter kinds, like "exclude: [cors]"; got "cors"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErrs(t, parseErrs(t, tt.src, env()), tt.want...)
		})
	}
}

func TestFilterSpecShapes(t *testing.T) {
	c := mustParse(t, minimal+`    filters:
      - cors:
      - wasm: order-check
      - headers: {request: {set: {X-A: b}}}
`, env())
	f := c.Routes[0].Filters
	if len(f) != 3 {
		t.Fatalf("filters = %+v", f)
	}
	if f[0].Name != "cors" || f[0].Node.Kind != 4 /* mapping */ || len(f[0].Node.Content) != 0 || f[0].Line != 10 {
		t.Errorf("bare filter = %+v, want an empty mapping on line 10", f[0])
	}
	if f[1].Name != "wasm" || f[1].Node.Value != "order-check" {
		t.Errorf("scalar filter = %+v", f[1])
	}
	if f[2].Name != "headers" || f[2].Node.Line != 12 {
		t.Errorf("headers filter = %+v", f[2])
	}

	bad := []struct{ entry, want string }{
		{"- headers: {}\n        cors: {}", `routes[0].filters[0]: a filter entry is a single-key map naming the filter, like "- headers: {...}" or "- chain: auth"; got 2 keys (headers, cors): put each filter in its own list entry`},
		{"- cors", `routes[0].filters[0]: a filter entry is a single-key map naming the filter, like "- headers: {...}" or "- chain: auth"; got "cors"`},
		{"- {}", `got an empty mapping`},
		{"-", `got nothing (null)`},
		{"- [cors]", `got a list`},
	}
	for _, b := range bad {
		got := strings.Join(parseErrs(t, minimal+"    filters:\n      "+b.entry+"\n", env()), "\n")
		if !strings.HasPrefix(got, "gw.yaml:10:") || !strings.Contains(got, b.want) {
			t.Errorf("%q: errors %q, want line 10 and %q", b.entry, got, b.want)
		}
	}
}
