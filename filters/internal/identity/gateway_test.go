package identity_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/wasmgate/wasmgate/core/gateway"
	_ "github.com/wasmgate/wasmgate/filters/apikey"
	_ "github.com/wasmgate/wasmgate/filters/jwt"
)

// Through a real gateway: a client-sent X-Consumer-Name never reaches the
// upstream; the authenticated one does, with the forwarded claims.
func TestIdentityHeadersThroughTheGateway(t *testing.T) {
	seen := make(chan http.Header, 8)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
	}))
	defer up.Close()

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
`, hex.EncodeToString(sum[:]), up.URL)
	file := filepath.Join(t.TempDir(), "gw.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g, err := gateway.Start(gateway.Source{File: file}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = g.Shutdown(t.Context()) }()
	base := "http://" + g.Addrs()["main"].String()

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
	tok, _ := jwtlib.NewWithClaims(jwtlib.SigningMethodHS256, jwtlib.MapClaims{
		"iss": "demo", "aud": "api", "sub": "user-7", "email": "u7@example.com",
		"exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(secret))
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
