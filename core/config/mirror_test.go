package config

import "testing"

func TestMirrorErrors(t *testing.T) {
	got := parseErrs(t, `
listeners: [{ address: ":8080" }]
upstreams:
  main:   { targets: [{ url: "http://127.0.0.1:9001" }] }
  shadow: { targets: [{ url: "http://127.0.0.1:9002" }] }
routes:
  - name: a
    match: { prefix: /a }
    upstream: main
    mirror: { upstream: shadw, percent: 0, max_in_flight: -1 }
  - name: b
    match: { prefix: /b }
    upstream: main
    mirror: { upstream: main, percent: 150 }
  - name: c
    match: { prefix: /c }
    respond: { status: 200 }
    mirror: { upstream: shadow }
`, nil)
	wantErrs(t, got,
		`gw.yaml:9:15: routes[0].mirror.upstream: unknown upstream "shadw"; valid upstreams: main, shadow; did you mean "shadow"?`,
		`gw.yaml:9:32: routes[0].mirror.percent: 0 is not a share of requests; valid: above 0 up to 100 (leave it out for 100)`,
		`gw.yaml:9:44: routes[0].mirror.max_in_flight: -1 is negative; a positive count, or leave it out for 32`,
		`gw.yaml:13:15: routes[1].mirror.upstream: the mirror is the route's own upstream "main": every mirrored request would reach it twice`,
		`gw.yaml:13:31: routes[1].mirror.percent: 150 is not a share of requests; valid: above 0 up to 100 (leave it out for 100)`,
		`gw.yaml:17:5: routes[2].mirror: mirror applies to routes whose target is an upstream or a split`,
	)
}
