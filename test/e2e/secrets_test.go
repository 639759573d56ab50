package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/wasmgate/wasmgate/test/internal/gatewaytest"
)

// Every secret below holds "LEAK" and appears nowhere else, so a test can
// look for that one word in everything the gateway shows.

// secretsConfig writes a secret into each field that holds one: literally,
// through an alias of a value anchored where it is shown, through a merge
// key, and from the environment.
const secretsConfig = head + `
server:
  server_header: &shown LEAK-anchored-in-a-shown-field
upstreams:
  a: { targets: [{ url: "{{.a}}" }] }
stores:
  redis: { address: "127.0.0.1:6379", password: LEAK-redis-password, username: gw }
consumers:
  - name: app
    api_keys: [{ sha256: "{{.sha}}" }]
    basic_auth: [{ username: app, bcrypt: "{{.bcrypt}}" }]
routes:
  - name: ok
    match: { path: /ok }
    upstream: a
    filters:
      - headers: { request: { set: { Authorization: "Bearer LEAK-headers-filter", X-Via-Alias: *shown } } }
  - name: jwt
    match: { path: /jwt }
    upstream: a
    filters:
      - jwt: { secret: LEAK-jwt-hmac-secret-of-at-least-32-bytes, allow_any_issuer: true, allow_any_audience: true }
  - name: merged
    match: { path: /merged }
    respond:
      headers: &merged { X-Otlp-Auth: LEAK-merged-into-tracing-headers }
  - name: agg
    match: { path: /agg }
    aggregate:
      calls: [{ name: c, as: c, upstream: a, path: /, headers: { X-Api-Token: LEAK-aggregate-header } }]
observability:
  tracing:
    otlp_endpoint: "http://127.0.0.1:4318"
    sample: 0
    headers: { <<: *merged, X-Env: "${E2E_TRACING_TOKEN}" }
`

func TestConfigViewHidesSecrets(t *testing.T) {
	needBinary(t)
	a := newEcho(t, "a")
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	sha := strings.Repeat("5ec7e7", 10) + "1ea5"
	g := startGateway(t, secretsConfig, vars{"a": a.URL, "sha": sha, "bcrypt": string(hash)},
		startOptions{Env: []string{"E2E_TRACING_TOKEN=LEAK-from-the-environment"}})

	resp, err := http.Get("http://" + g.Admin + "/config")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	view := string(body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(view, "[redacted]") {
		t.Fatalf("GET /config: %d\n%s", resp.StatusCode, view)
	}
	for _, secret := range []string{"LEAK", sha, string(hash)} {
		if strings.Contains(view, secret) {
			t.Errorf("GET /config shows %q:\n%s", secret, view)
		}
	}
	// What is not secret is still there to read, the environment as its
	// reference; aliases are resolved.
	for _, want := range []string{"path: /agg", "username: gw", "X-Env: '[redacted]'", "Authorization: '[redacted]'"} {
		if !strings.Contains(view, want) {
			t.Errorf("GET /config lacks %q:\n%s", want, view)
		}
	}
	if strings.Contains(view, "*shown") || strings.Contains(view, "&merged") {
		t.Errorf("GET /config keeps anchors or aliases:\n%s", view)
	}
}

// A reload that fails on a value from the environment says which reference
// was wrong, never its value: not in the response, not in the log.
func TestReloadErrorsHideEnvValues(t *testing.T) {
	needBinary(t)
	a := newEcho(t, "a")
	const pw = "LEAK-pa55word"
	g := startGateway(t, reloadV1, vars{"a": a.URL}, startOptions{Symlinked: true, Env: []string{
		"E2E_REDIS_URL=redis://default:" + pw + "@cache.internal:6379/0",
		"E2E_TARGET=http://app:" + pw + "@10.0.0.1:8080",
		"E2E_JWKS=ftp://issuer:" + pw + "@keys.internal/jwks.json",
		"E2E_LONG=x-" + strings.Repeat("y", 40) + pw,
		"E2E_PASSWORD=" + pw,
	}})
	for name, bad := range map[string]string{
		"redis URL as address": `
stores: { redis: { address: "${E2E_REDIS_URL}" } }`,
		"credentials in a target": `
  b: { targets: [{ url: "${E2E_TARGET}" }] }`,
		"a filter's check": `
    filters: [{ jwt: { jwks_url: "${E2E_JWKS}" } }]`,
		"a shortened quote": `
    websocket: "${E2E_LONG}"`,
		"part of a value": `
stores: { redis: { address: "redis://u:${E2E_PASSWORD}@cache:6379" } }`,
	} {
		t.Run(name, func(t *testing.T) {
			cfg := reloadV1 + bad + "\n"
			if strings.HasPrefix(strings.TrimPrefix(bad, "\n"), "  b:") {
				cfg = strings.Replace(reloadV1, "upstreams:\n", "upstreams:"+bad+"\n", 1)
			}
			g.WriteConfig(cfg, nil)
			logBefore := len(g.Stderr.String())
			code, body := g.Reload()
			if code != http.StatusUnprocessableEntity {
				t.Fatalf("POST /reload: %d %s, want 422", code, body)
			}
			if strings.Contains(string(body), "LEAK") {
				t.Errorf("the /reload response shows the value:\n%s", body)
			}
			if !strings.Contains(string(body), "${E2E_") {
				t.Errorf("the /reload response does not name the reference:\n%s", body)
			}
			if log := g.Stderr.String()[logBefore:]; strings.Contains(log, "LEAK") {
				t.Errorf("the log shows the value:\n%s", log)
			}
			if resp, _ := g.Get("/v1"); resp.StatusCode != http.StatusOK {
				t.Errorf("/v1 after the rejected reload: %d", resp.StatusCode)
			}
		})
	}
	if log := g.Stderr.String(); strings.Contains(log, pw) || !strings.Contains(log, "reload rejected") {
		t.Errorf("gateway log: rejected reloads missing, or the value shown:\n%s", gatewaytest.Tail(log, 4000))
	}
}
