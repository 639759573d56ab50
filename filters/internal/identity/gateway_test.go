package identity_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"

	_ "github.com/wasmgate/wasmgate/filters/all"
	"github.com/wasmgate/wasmgate/internal/gwtest"
)

// Through a real gateway: a client-sent X-Consumer-Name never reaches the
// upstream; the authenticated one does, with the forwarded claims.
func TestIdentityHeadersThroughTheGateway(t *testing.T) {
	upURL, seen := recorder(t)

	const key = "gateway-test-key-0123456789"
	secret := strings.Repeat("k", 32)
	t.Setenv("GW_TEST_JWT_SECRET", secret)
	sum := sha256.Sum256([]byte(key))
	cfg := fmt.Sprintf(`
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
consumers:
  - { name: mobile, api_keys: [{ sha256: %q }] }
  - { name: web, jwt: [{ issuer: demo, subject: user-7 }] }
upstreams:
  echo: { targets: [{ url: %q }] }
routes:
  - name: keyed
    match: { prefix: /keyed }
    filters: [{ apikey: {} }]
    upstream: echo
  - name: tokened
    match: { prefix: /tokened }
    filters:
      - jwt: { issuer: demo, audiences: [api], secret: "${GW_TEST_JWT_SECRET}", forward_claims: { email: X-User-Email } }
    upstream: echo
`, hex.EncodeToString(sum[:]), upURL)
	_, base, _ := gwtest.Serve(t, cfg)

	do := func(path string, hdr ...string) int {
		req, _ := http.NewRequest("GET", base+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Add(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	upstreamSaw := func() http.Header {
		select {
		case h := <-seen:
			return h
		case <-time.After(5 * time.Second):
			t.Fatal("the upstream saw nothing")
			return nil
		}
	}

	// API key, with spoofed identity headers.
	if st := do("/keyed", "X-API-Key", key, "X-Consumer-Name", "admin", "x-consumer-tier", "platinum"); st != 200 {
		t.Fatalf("keyed: %d", st)
	}
	h := upstreamSaw()
	if got := h.Values("X-Consumer-Name"); len(got) != 1 || got[0] != "mobile" {
		t.Errorf("upstream saw X-Consumer-Name %q, want only mobile", got)
	}
	if h.Get("X-Consumer-Tier") != "" || h.Get("X-Api-Key") != "" {
		t.Errorf("upstream saw X-Consumer-Tier %q / X-Api-Key %q; both must be removed", h.Get("X-Consumer-Tier"), h.Get("X-Api-Key"))
	}

	// A spoofed identity without credentials never reaches the upstream.
	if st := do("/keyed", "X-Consumer-Name", "mobile"); st != 401 {
		t.Errorf("no key: %d, want 401", st)
	}

	// JWT, with spoofed identity and claim headers.
	tok := token(secret)
	if st := do("/tokened", "Authorization", "Bearer "+tok, "X-Consumer-Name", "admin", "X-User-Email", "ceo@example.com"); st != 200 {
		t.Fatalf("tokened: %d", st)
	}
	h = upstreamSaw()
	if got := h.Values("X-Consumer-Name"); len(got) != 1 || got[0] != "web" {
		t.Errorf("upstream saw X-Consumer-Name %q, want only web", got)
	}
	if got := h.Values("X-User-Email"); len(got) != 1 || got[0] != "u7@example.com" {
		t.Errorf("upstream saw X-User-Email %q, want only the claim", got)
	}
	if st := do("/tokened", "Authorization", "Bearer "+tok+"x", "X-Consumer-Name", "web"); st != 401 {
		t.Errorf("tampered token: %d, want 401", st)
	}
	select {
	case h := <-seen:
		t.Errorf("a refused request reached the upstream: %v", h)
	default:
	}
}

// Anonymous consumers (Kong's `anonymous`): a request without credentials
// goes as the declared anonymous consumer, marked for the upstream; a wrong
// credential is still refused; with two anonymous-enabled filters either
// credential suffices and a real identity is never overwritten by the
// anonymous one; spoofed identity and claim headers never pass.
func TestAnonymousConsumer(t *testing.T) {
	upURL, seen := recorder(t)
	const key = "anonymous-test-key-0123456789"
	secret := strings.Repeat("s", 32)
	t.Setenv("GW_ANON_JWT_SECRET", secret)
	sum := sha256.Sum256([]byte(key))
	cfg := fmt.Sprintf(`
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
consumers:
  - { name: guest, metadata: { tier: free } }
  - { name: mobile, api_keys: [{ sha256: %q }] }
  - { name: web, jwt: [{ issuer: demo, subject: user-7 }] }
upstreams:
  echo: { targets: [{ url: %q }] }
routes:
  - name: either
    filters:
      - apikey: { anonymous: guest }
      - jwt: { issuer: demo, audiences: [api], secret: "${GW_ANON_JWT_SECRET}", anonymous: guest, forward_claims: { email: X-User-Email } }
    upstream: echo
`, hex.EncodeToString(sum[:]), upURL)
	g, base, file := gwtest.Serve(t, cfg)
	tok := token(secret)

	cases := []struct {
		name       string
		hdr        []string
		status     int
		consumer   string // X-Consumer-Name upstream ("" when refused)
		anonymous  string // X-Consumer-Anonymous upstream
		claimEmail string
	}{
		{"no credentials", []string{"X-Consumer-Name", "mobile", "X-User-Email", "ceo@example.com"}, 200, "guest", "true", ""},
		{"spoofed anonymous mark with a key", []string{"X-API-Key", key, "X-Consumer-Anonymous", "true"}, 200, "mobile", "", ""},
		{"a token, no key", []string{"Authorization", "Bearer " + tok}, 200, "web", "", "u7@example.com"},
		{"a key, no token", []string{"X-API-Key", key, "X-User-Email", "ceo@example.com"}, 200, "mobile", "", ""},
		{"a wrong key", []string{"X-API-Key", key + "x"}, 401, "", "", ""},
		{"a bad token", []string{"Authorization", "Bearer " + tok + "x"}, 401, "", "", ""},
	}
	for _, c := range cases {
		req, _ := http.NewRequest("GET", base+"/", nil)
		for i := 0; i+1 < len(c.hdr); i += 2 {
			req.Header.Add(c.hdr[i], c.hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s: %d, want %d", c.name, resp.StatusCode, c.status)
			continue
		}
		if c.status != 200 {
			continue
		}
		var h http.Header
		select {
		case h = <-seen:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: the upstream saw nothing", c.name)
		}
		if got := h.Values("X-Consumer-Name"); len(got) != 1 || got[0] != c.consumer {
			t.Errorf("%s: upstream saw X-Consumer-Name %q, want only %q", c.name, got, c.consumer)
		}
		if got := h.Get("X-Consumer-Anonymous"); got != c.anonymous {
			t.Errorf("%s: upstream saw X-Consumer-Anonymous %q, want %q", c.name, got, c.anonymous)
		}
		if got := h.Get("X-User-Email"); got != c.claimEmail {
			t.Errorf("%s: upstream saw X-User-Email %q, want %q", c.name, got, c.claimEmail)
		}
	}
	select {
	case h := <-seen:
		t.Errorf("a refused request reached the upstream: %v", h)
	default:
	}

	// The anonymous consumer must be declared: a typo is a config error.
	bad := strings.Replace(cfg, "apikey: { anonymous: guest }", "apikey: { anonymous: gust }", 1)
	if err := os.WriteFile(file, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := g.Reload(); err == nil || !strings.Contains(err.Error(), `unknown consumer "gust"`) || !strings.Contains(err.Error(), `did you mean "guest"?`) {
		t.Errorf("reload with an undeclared anonymous consumer: %v", err)
	}
}

// recorder is an upstream that hands the headers of every request it gets
// to the test.
func recorder(t *testing.T) (url string, seen chan http.Header) {
	seen = make(chan http.Header, 8)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
	}))
	t.Cleanup(up.Close)
	return up.URL, seen
}

// token is an HS256 token for sub user-7 of issuer demo, audience api.
func token(secret string) string {
	tok, _ := jwtlib.NewWithClaims(jwtlib.SigningMethodHS256, jwtlib.MapClaims{
		"iss": "demo", "aud": "api", "sub": "user-7", "email": "u7@example.com",
		"exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(secret))
	return tok
}
