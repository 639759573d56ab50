package config

import "testing"

func TestExpand(t *testing.T) {
	lookup := env("HOST", "db.local", "EMPTY", "", "PORT", "5432")
	tests := []struct{ in, want, err string }{
		{in: "${HOST}:${PORT}", want: "db.local:5432"},
		{in: "${MISSING:-fallback}", want: "fallback"},
		{in: "${EMPTY:-fallback}", want: "fallback"},
		{in: "${EMPTY}", want: ""},
		{in: "${HOST:-x}", want: "db.local"},
		{in: "${MISSING:-}", want: ""},
		{in: "$$HOME costs $$5", want: "$HOME costs $5"},
		{in: "^/v1$", want: "^/v1$"},
		{in: "a$b", want: "a$b"},
		{in: "${MISSING:-${HOST}}x", want: "${HOST}x"}, // defaults are literal; the first } ends the reference
		{in: "${MISSING}", err: "environment variable MISSING is not set; set it, or give a default: ${MISSING:-default}"},
		{in: "${1X}", err: "bad reference ${1X}: write ${NAME} or ${NAME:-default} (NAME is letters, digits and _, not starting with a digit), or $$ for a literal $"},
		{in: "${HOST-x}", err: "bad reference ${HOST-x}: write ${NAME} or ${NAME:-default} (NAME is letters, digits and _, not starting with a digit), or $$ for a literal $"},
		{in: "x${HOST", err: `unterminated "${HOST": write ${NAME} or ${NAME:-default}, or $$ for a literal $`},
	}
	for _, tt := range tests {
		got, _, err := expand(tt.in, lookup)
		switch {
		case tt.err != "" && (err == nil || err.Error() != tt.err):
			t.Errorf("expand(%q) error = %v, want %q", tt.in, err, tt.err)
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestEnvInConfig(t *testing.T) {
	c := mustParse(t, `
listeners:
  - address: "${ADDR}"
    h2c: ${H2C}
    http2:
      max_concurrent_streams: ${STREAMS:-100}
    timeouts: {read: "${READ:-}"}
upstreams:
  users:
    # Flow style ends a plain value at "}", so there references are quoted.
    targets: [{url: "http://${USERS_HOST}:9001", weight: "${W}"}]
routes:
  - name: users
    upstream: users
    match:
      regex: "^/users/[0-9]+$"
      headers: [{name: X-Price, value: "$${literal}"}]
`, env("ADDR", ":8080", "H2C", "true", "USERS_HOST", "10.0.0.5", "W", "3"))
	l := c.Listeners[0]
	if l.Address != ":8080" || !l.H2C || l.HTTP2.MaxConcurrentStreams != 100 || l.Timeouts.Read.D() != defaultReadTimeout {
		t.Errorf("listener = %+v", l)
	}
	if tg := c.Upstreams["users"].Targets[0]; tg.URL != "http://10.0.0.5:9001" || tg.Weight != 3 {
		t.Errorf("target = %+v", tg)
	}
	if r := c.Routes[0]; r.Match.Headers[0].Value != "${literal}" || r.Match.Regex != "^/users/[0-9]+$" {
		t.Errorf("route = %+v", r)
	}
}

func TestEnvErrors(t *testing.T) {
	got := parseErrs(t, `
listeners:
  - address: ${ADDR}
    h2c: ${H2C}
upstreams:
  ${NOT_A_VAR}:
    targets: [{url: "http://${HOST}:1"}]
`, env("H2C", "perhaps"))
	wantErrs(t, got,
		`gw.yaml:2:14: listeners[0].address: environment variable ADDR is not set; set it, or give a default: ${ADDR:-default}`,
		// The value came from the environment: the error shows where from.
		`gw.yaml:3:10: listeners[0].h2c: expected true or false, got "${H2C}"`,
		`gw.yaml:5:3: upstreams.${NOT_A_VAR}: upstream name "${NOT_A_VAR}" is not valid; use letters, digits, '_', '.' and '-'`,
		`gw.yaml:6:21: upstreams.${NOT_A_VAR}.targets[0].url: environment variable HOST is not set; set it, or give a default: ${HOST:-default}`,
	)
}
