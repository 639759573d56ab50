package jwt

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/wasmgate/wasmgate/internal/gwtest"
)

// Through a real gateway: a reload that keeps jwks_url and its timings keeps
// the fetched key set (no new fetch, no window without keys); one that
// changes them fetches afresh.
func TestReloadKeepsTheKeySet(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, rsaJWK("k1", rsaKey))
	cfg := fmt.Sprintf(`
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
routes:
  - name: api
    match: { path: /api }
    filters:
      - jwt: { issuer: %q, audiences: [api], jwks_url: %q, disable_cache: true }
    respond: { body: "ok" }
`, issuer, srv.URL)
	g, base, file := gwtest.Serve(t, cfg)
	tok := sign(t, jwtlib.SigningMethodRS256, "k1", rsaKey, goodClaims())
	get := func() int {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/api", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	reload := func(cfg string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := g.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	if got := get(); got != 200 { // waits for the first fetch if need be
		t.Fatalf("%d, want 200", got)
	}
	fetched := srv.hits.Load()
	reload(cfg + `
  - name: other
    match: { path: /other }
    respond: { body: "other" }
`)
	if got := get(); got != 200 {
		t.Fatalf("after a reload that kept jwks_url: %d, want 200", got)
	}
	if n := srv.hits.Load(); n != fetched {
		t.Errorf("%d fetches after a reload that kept jwks_url, want %d (the key set is kept)", n, fetched)
	}
	reload(strings.Replace(cfg, "disable_cache: true", "disable_cache: true, jwks_timeout: 4s", 1))
	if got := get(); got != 200 {
		t.Fatalf("after a reload that changed the JWKS timings: %d, want 200", got)
	}
	if n := srv.hits.Load(); n <= fetched {
		t.Errorf("%d fetches after a reload that changed the JWKS timings, want more than %d", n, fetched)
	}
}
