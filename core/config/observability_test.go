package config

import (
	"strings"
	"testing"
)

func TestRequestIDErrors(t *testing.T) {
	got := parseErrs(t, `
listeners: [{ address: ":8080" }]
observability:
  request_id: { header: "X Request" }
routes: [{ name: r, match: { prefix: / }, respond: { status: 200 } }]
`, env())
	wantErrs(t, got, `gw.yaml:3:17: observability.request_id.header: "X Request" is not a valid header name; e.g. X-Request-Id`)
}

func TestRequestIDDefaults(t *testing.T) {
	c := mustParse(t, `
listeners: [{ address: ":8080" }]
observability:
  request_id: {}
routes: [{ name: r, match: { prefix: / }, respond: { status: 200 } }]
`, env())
	if r := c.Observability.RequestID; r.Header != "X-Request-Id" || !*r.Generate {
		t.Errorf("request id defaults: %+v", r)
	}
}

func TestReadinessUpstreams(t *testing.T) {
	got := parseErrs(t, `
listeners: [{ address: ":8080" }]
admin: { readiness: { require_healthy_upstreams: [users, userz] } }
upstreams: { users: { targets: [{ url: "http://127.0.0.1:9001" }] } }
routes: [{ name: r, match: { prefix: / }, upstream: users }]
`, env())
	want := `gw.yaml:2:58: admin.readiness.require_healthy_upstreams[1]: unknown upstream "userz"; valid upstreams: users; did you mean "users"?`
	if len(got) != 1 || got[0] != want {
		t.Errorf("got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), want)
	}
}
