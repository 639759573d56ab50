package config

import (
	"strings"
	"testing"
)

func TestResponseHygieneValidation(t *testing.T) {
	got := parseErrs(t, `
listeners: [{address: ":8080"}]
server:
  server_header: "gw\r\nX-Injected: 1"
  hide_response_headers: [X-Powered-By, "bad name", content-length, x-powered-by, Server]
`, nil)
	want := []string{
		`server.server_header: holds a control character`,
		`server.hide_response_headers[1]: "bad name" is not a header name`,
		`server.hide_response_headers[2]: Content-Length frames the response`,
		`server.hide_response_headers[3]: X-Powered-By is already listed at hide_response_headers[0]`,
		`server.hide_response_headers[4]: Server is already replaced by server.server_header`,
	}
	all := strings.Join(got, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("missing error %q in:\n%s", w, all)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d errors, want %d:\n%s", len(got), len(want), all)
	}

	c, err := parse("gw.yaml", doc(`
listeners: [{address: ":8080"}]
server: {server_header: wasmgate, hide_response_headers: [X-Powered-By]}
`), env())
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.ServerHeader != "wasmgate" || len(c.Server.HideResponseHeaders) != 1 {
		t.Errorf("server = %+v", c.Server)
	}
}

// A route method with lowercase letters could never match while such
// requests are refused; with server.allow_lowercase_methods it can.
// max_header_count defaults to 100 and may not be negative.
func TestMethodCaseAndHeaderCount(t *testing.T) {
	wantErrs(t, parseErrs(t, minimal+`    match: {methods: [GET, purge]}
`, env()), `gw.yaml:9:28: routes[0].match.methods[1]: "purge" would never match: requests with lowercase methods are refused; write "PURGE", or set server.allow_lowercase_methods`)

	c, err := parse("gw.yaml", doc(minimal+`    match: {methods: [GET, purge]}
server: {allow_lowercase_methods: true}
`), env())
	if err != nil {
		t.Fatal(err)
	}
	if !c.Server.AllowLowercaseMethods || c.Listeners[0].MaxHeaderCount != 100 {
		t.Errorf("server = %+v, max_header_count = %d; want the opt-in and 100", c.Server, c.Listeners[0].MaxHeaderCount)
	}

	wantErrs(t, parseErrs(t, `
listeners: [{address: ":8080", max_header_count: -1}]
upstreams: {u: {targets: [{url: "http://127.0.0.1:9001"}]}}
routes: [{name: r, upstream: u}]
`, env()), `gw.yaml:1:32: listeners[0].max_header_count: -1 is negative; use a positive number (0 means the default)`)
}

func TestOverloadAndConnectionLimitsValidation(t *testing.T) {
	got := parseErrs(t, `
listeners:
  - address: ":8080"
    max_connections: 10
    max_connections_per_ip: 20
    accept_rate: {burst: 5}
  - address: ":8081"
    max_connections: -1
    accept_rate: {per_second: -2}
server:
  overload: {heap_soft: 2GiB, heap_hard: 1GiB}
`, nil)
	want := []string{
		`server.overload.heap_hard: 1073741824 bytes is not above heap_soft`,
		`listeners[0].max_connections_per_ip: 20 is above max_connections (10)`,
		`listeners[0].accept_rate.burst: is set without per_second`,
		`listeners[1].max_connections: -1 is negative`,
		`listeners[1].accept_rate.per_second: -2 is negative`,
	}
	all := strings.Join(got, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("missing error %q in:\n%s", w, all)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d errors, want %d:\n%s", len(got), len(want), all)
	}

	c, err := parse("gw.yaml", doc(`
listeners: [{address: ":8080", accept_rate: {per_second: 50}}]
server: {min_response_rate: {grace: 10s}}
`), env())
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Listeners[0].AcceptRate; r.Burst != 50 {
		t.Errorf("accept_rate = %+v, want burst defaulted to per_second", r)
	}
	if r := c.Server.MinResponseRate; r.BytesPerSecond == nil || *r.BytesPerSecond != 240 || r.Grace.D().Seconds() != 10 {
		t.Errorf("min_response_rate = %+v, want 240 bytes/s (default) after 10s", r)
	}
}

// server.drain_delay is a duration like drain_timeout, placed when wrong,
// and bounded: minutes of delay are a unit typo.
func TestDrainDelay(t *testing.T) {
	c := mustParse(t, `
listeners: [{address: ":8080"}]
server: {drain_delay: 5s}
`, env())
	if got := c.Server.DrainDelay.D(); got.String() != "5s" {
		t.Errorf("drain_delay = %v, want 5s", got)
	}
	if got := mustParse(t, "listeners: [{address: \":8080\"}]\n", env()).Server.DrainDelay.D(); got != 0 {
		t.Errorf("default drain_delay = %v, want 0 (drain at once)", got)
	}
	wantErrs(t, parseErrs(t, `
listeners: [{address: ":8080"}]
server:
  drain_delay: 10m
`, env()), `gw.yaml:3:3: server.drain_delay: 10m0s is longer than 5m0s: it is how long a stopping gateway keeps serving while load balancers take it out of rotation, usually 5s to 15s`)
	wantErrs(t, parseErrs(t, `
listeners: [{address: ":8080"}]
server:
  drain_delay: 5
`, env()), `gw.yaml:3:16: server.drain_delay: expected a duration like "250ms" or "5s", got "5" (a unit is required)`)
}
