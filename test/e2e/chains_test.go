package e2e

import (
	"net/http"
	"strings"
	"testing"
)

const chainsConfig = head + `
upstreams:
  a: { targets: [{ url: "{{.a}}" }] }

filter_chains:
  base:
    - headers: { response: { set: { X-Chain: base } } }
    - cors: { allow_origins: ["https://app.example.com"] }
    - rate_limit: { rate: 1/h }

routes:
  - name: plain
    match: { path: /plain }
    filters: [{ chain: base }]
    upstream: a
  - name: no-cors
    match: { path: /no-cors }
    filters: [{ chain: { name: base, exclude: [cors] } }]
    upstream: a
  - name: higher
    match: { path: /higher }
    filters:
      - chain: { name: base, replace: { rate_limit: { rate: 100/h } } }
    upstream: a
`

// A route adjusts a shared chain for itself: exclude drops one of its
// filters, replace swaps one for the route's own (here a higher limit).
func TestChainExcludeAndReplace(t *testing.T) {
	needBinary(t)
	a := newEcho(t, "a")
	g := startGateway(t, chainsConfig, vars{"a": a.URL})

	get := func(path string) *http.Response {
		req := newRequest(t, http.MethodGet, g.URL(path), nil)
		req.Header.Set("Origin", "https://app.example.com")
		resp, _ := g.Do(req)
		return resp
	}

	resp := get("/plain")
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || resp.Header.Get("X-Chain") != "base" {
		t.Errorf("/plain: %d, ACAO %q, X-Chain %q; want 200 with the chain's cors and headers",
			resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Get("X-Chain"))
	}
	if resp := get("/plain"); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("second /plain: %d, want 429 from the chain's 1/h limit", resp.StatusCode)
	}

	resp = get("/no-cors")
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.Header.Get("X-Chain") != "base" {
		t.Errorf("/no-cors: %d, ACAO %q, X-Chain %q; want 200, no cors header, the chain's other filters",
			resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Get("X-Chain"))
	}

	// The replaced limit admits more than the chain's one request an hour,
	// and the route keeps the chain's other filters.
	for i := range 3 {
		resp := get("/higher")
		if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") == "" {
			t.Fatalf("/higher request %d: %d, ACAO %q; want 200 under the route's 100/h with the chain's cors",
				i+1, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	}
}

// validate warns about a route with two filters that should not be
// doubled, naming both lines, and reports an error inside a chain once,
// whatever the number of routes using it.
func TestValidateChains(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	writeFile(t, dir, "doubled.yaml", `listeners:
  - address: "127.0.0.1:0"
admin: { address: "off" }
upstreams:
  api: { targets: [{ url: "http://127.0.0.1:9" }] }
filter_chains:
  base:
    - cors: { allow_origins: ["https://a.example.com"] }
    - rate_limit: { rate: 10/s }
routes:
  - name: a
    match: { path: /a }
    filters:
      - chain: base
      - cors: { allow_origins: ["https://b.example.com"] }
      - rate_limit: { rate: 50/s }
    upstream: api
`)
	out, errOut, code := runCLI(t, dir, "validate", "-c", "doubled.yaml")
	if code != 0 || !strings.Contains(out, "doubled.yaml: ok") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 0: doubled filters are valid", code, out, errOut)
	}
	for _, want := range []string{
		`warning: doubled.yaml:15:9: routes[0].filters[1].cors: route "a" has two cors filters, this one and filter_chains.base[0].cors at line 8; both run`,
		`warning: doubled.yaml:16:9: routes[0].filters[2].rate_limit: route "a" has two rate_limit (key global per 1s) filters, this one and filter_chains.base[1].rate_limit at line 9; both run, so the lower limit wins`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks\n  %s\ngot:\n%s", want, errOut)
		}
	}

	writeFile(t, dir, "bad.yaml", `listeners:
  - address: "127.0.0.1:0"
admin: { address: "off" }
upstreams:
  api: { targets: [{ url: "http://127.0.0.1:9" }] }
filter_chains:
  base:
    - rate_limit: { rate: 10/s, burts: 5 }
routes:
  - { name: a, match: { path: /a }, filters: [{ chain: base }], upstream: api }
  - { name: b, match: { path: /b }, filters: [{ chain: base }], upstream: api }
  - { name: c, match: { path: /c }, filters: [{ chain: base }], upstream: api }
`)
	_, errOut, code = runCLI(t, dir, "validate", "-c", "bad.yaml")
	if code == 0 || strings.Count(errOut, "rate_limit.burts:") != 1 || !strings.Contains(errOut, "bad.yaml:8:") || !strings.Contains(errOut, "1 problem(s)") {
		t.Errorf("exit %d, stderr:\n%s\nwant one error at the chain's line 8", code, errOut)
	}
}

// validate --env-placeholders checks everything but the values of unset
// variables, and lists what the config reads.
func TestValidateEnvPlaceholders(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	cfg := `listeners:
  - address: "${WGT_LISTEN_ADDR}"
admin: { address: "off" }
stores: { redis: { address: "${WGT_REDIS_ADDR}", password: "${WGT_REDIS_PW}" } }
upstreams:
  api: { targets: [{ url: "https://${WGT_API_HOST}:8443" }] }
routes:
  - name: a
    match: { path: /a }
    filters:
      - jwt: { issuer: "${WGT_ISSUER:-https://auth.example.com}", audiences: [api], secret: "${WGT_JWT_SECRET}" }
      - rate_limit: { rate: 10/s, store: redis, BURST }
    upstream: api
`
	writeFile(t, dir, "bad.yaml", strings.Replace(cfg, "BURST", "burts: 3", 1))
	writeFile(t, dir, "good.yaml", strings.Replace(cfg, "BURST", "burst: 3", 1))

	// Without the flag, each unset variable is an error.
	if _, errOut, code := runCLI(t, dir, "validate", "-c", "good.yaml"); code == 0 || !strings.Contains(errOut, "WGT_JWT_SECRET is not set") {
		t.Errorf("without --env-placeholders: exit %d, stderr:\n%s\nwant the unset variables reported", code, errOut)
	}
	// With it, only the real problem is left.
	_, errOut, code := runCLI(t, dir, "validate", "--env-placeholders", "-c", "bad.yaml")
	if code == 0 || !strings.Contains(errOut, `bad.yaml:12:49: routes[0].filters[1].rate_limit.burts: unknown field "burts"`) || !strings.Contains(errOut, "1 problem(s)") {
		t.Errorf("bad.yaml: exit %d, stderr:\n%s\nwant exactly the burts error", code, errOut)
	}
	out, errOut, code := runCLI(t, dir, "validate", "--env-placeholders", "-c", "good.yaml")
	if code != 0 {
		t.Fatalf("good.yaml: exit %d, stderr:\n%s", code, errOut)
	}
	for _, want := range []string{
		"the config reads 6 variable(s)",
		"WGT_API_HOST\t(line 6)\tUNSET (placeholder)",
		"WGT_ISSUER\t(line 11)\tunset, has a default",
		"WGT_JWT_SECRET\t(line 11)\tUNSET (placeholder)",
		"WGT_LISTEN_ADDR\t(line 2)\tUNSET (placeholder)",
		"good.yaml: ok",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
}
