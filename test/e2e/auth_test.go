package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/wasmgate/wasmgate/test/internal/gatewaytest"
)

// jwksServer is an issuer's JWKS endpoint whose key set the test can
// change (a rotation), counting the fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    map[string]*rsa.PrivateKey // kid → key; the public halves are served
	fetches atomic.Int64
}

func newJWKSServer(t *testing.T) *jwksServer {
	t.Helper()
	s := &jwksServer{keys: map[string]*rsa.PrivateKey{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		type jwk struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			Alg string `json:"alg"`
			Use string `json:"use"`
			N   string `json:"n"`
			E   string `json:"e"`
		}
		var set struct {
			Keys []jwk `json:"keys"`
		}
		for kid, k := range s.keys {
			set.Keys = append(set.Keys, jwk{Kty: "RSA", Kid: kid, Alg: "RS256", Use: "sig",
				N: base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
				E: base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())})
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(s.Close)
	return s
}

// serve replaces the served key set.
func (s *jwksServer) serve(keys map[string]*rsa.PrivateKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = keys
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// signRS256 makes a token for the test issuer and audience with kid in its
// header, valid for an hour.
func signRS256(t *testing.T, key *rsa.PrivateKey, kid, sub string, extra map[string]any) string {
	t.Helper()
	claims := jwtlib.MapClaims{
		"iss": "https://issuer.test/", "aud": "api", "sub": sub,
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
	}
	for k, v := range extra {
		claims[k] = v
	}
	tok := jwtlib.NewWithClaims(jwtlib.SigningMethodRS256, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const authConfig = head + `
observability: { metrics: { prometheus: true } }
consumers:
  - { name: web, jwt: [{ issuer: "https://issuer.test/", subject: user-7 }] }
  - { name: mobile, api_keys: [{ sha256: "{{.key_sha256}}" }] }
  - { name: ops, basic_auth: [{ username: ops, bcrypt: "${E2E_OPS_BCRYPT}" }] }
upstreams:
  echo: { targets: [{ url: "{{.echo}}" }] }
routes:
  - name: jwt
    match: { prefix: /jwt }
    filters:
      - jwt:
          issuer: "https://issuer.test/"
          audiences: [api]
          jwks_url: "{{.jwks}}"
          algorithms: [RS256]
          jwks_min_refresh: 1s
          forward_claims: { email: X-User-Email }
    upstream: echo
  - name: key
    match: { prefix: /key }
    filters: [{ apikey: {} }]
    upstream: echo
  - name: basic
    match: { prefix: /basic }
    filters: [{ basicauth: { realm: staff } }]
    upstream: echo
`

// Authentication through the real binary: jwt against a JWKS served by a
// test issuer (RS256, forwarded claims, a key rotation picked up), apikey
// and basicauth (bcrypt); spoofed identity headers never reach the upstream
// and refused requests never reach it at all (counted at the upstream).
func TestAuthFilters(t *testing.T) {
	needBinary(t)
	echo := newEcho(t, "echo")
	jwks := newJWKSServer(t)
	key1 := rsaKey(t)
	jwks.serve(map[string]*rsa.PrivateKey{"k1": key1})

	const apiKey = "e2e-api-key-0123456789abcdef"
	sum := sha256.Sum256([]byte(apiKey))
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret-pass"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, authConfig, vars{"echo": echo.URL, "jwks": jwks.URL, "key_sha256": hex.EncodeToString(sum[:])},
		startOptions{Env: []string{"E2E_OPS_BCRYPT=" + string(hash)}})

	var passed int64 // requests the upstream must have received
	// do sends GET path with header pairs; on 200 it returns what the
	// upstream saw.
	do := func(path string, want int, hdr ...string) (*http.Response, seen) {
		t.Helper()
		req := newRequest(t, http.MethodGet, g.URL(path), nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Add(hdr[i], hdr[i+1])
		}
		resp, body := g.Do(req)
		if resp.StatusCode != want {
			t.Errorf("%s %v: %d %s, want %d", path, hdr, resp.StatusCode, body, want)
			return resp, seen{}
		}
		if want != http.StatusOK {
			checkError(t, resp.StatusCode, resp.Header, body, want)
			return resp, seen{}
		}
		passed++
		return resp, decodeSeen(t, resp.StatusCode, body)
	}
	only := func(s seen, name, want string) {
		t.Helper()
		if got := s.Header.Values(name); !slices.Equal(got, []string{want}) {
			t.Errorf("upstream saw %s %q, want only %q", name, got, want)
		}
	}
	spoof := []string{"X-Consumer-Name", "admin", "X-Consumer-Tier", "platinum", "X-User-Email", "ceo@example.com"}

	t.Run("jwt", func(t *testing.T) {
		good := signRS256(t, key1, "k1", "user-7", map[string]any{"email": "u7@example.com"})
		_, s := do("/jwt/a", 200, append([]string{"Authorization", "Bearer " + good}, spoof...)...)
		only(s, "X-Consumer-Name", "web")
		only(s, "X-User-Email", "u7@example.com")
		if v := s.Header.Get("X-Consumer-Tier"); v != "" {
			t.Errorf("upstream saw the spoofed X-Consumer-Tier %q", v)
		}

		// Signed by a key the issuer never published, under the published
		// kid: a bad signature, refused, never forwarded.
		forged := signRS256(t, rsaKey(t), "k1", "user-7", nil)
		resp, _ := do("/jwt/forged", 401, append([]string{"Authorization", "Bearer " + forged}, spoof...)...)
		if h := resp.Header.Get("WWW-Authenticate"); !strings.Contains(h, `error="invalid_token"`) {
			t.Errorf("forged token: WWW-Authenticate %q, want error=\"invalid_token\"", h)
		}
		do("/jwt/none", 401, spoof...)

		// Rotation: the issuer publishes k2 and drops k1. A token under k2
		// (a kid the gateway has not seen) makes it fetch the set again,
		// at most once per jwks_min_refresh, so it is admitted once the
		// refetch is allowed; asked until then.
		key2 := rsaKey(t)
		jwks.serve(map[string]*rsa.PrivateKey{"k2": key2})
		rotated := signRS256(t, key2, "k2", "user-7", map[string]any{"email": "u7@example.com"})
		before := jwks.fetches.Load()
		refused := 0
		if err := poll(30*time.Second, func() error {
			req := newRequest(t, http.MethodGet, g.URL("/jwt/rotated"), nil)
			req.Header.Set("Authorization", "Bearer "+rotated)
			resp, body := g.Do(req)
			switch resp.StatusCode {
			case 200:
				passed++
				only(decodeSeen(t, resp.StatusCode, body), "X-Consumer-Name", "web")
				return nil
			case 401:
				refused++
				return fmt.Errorf("still 401: %s", body)
			}
			return gatewaytest.Stop(fmt.Errorf("%d %s", resp.StatusCode, body))
		}); err != nil {
			t.Fatalf("token under the rotated key: %v", err)
		}
		if jwks.fetches.Load() <= before {
			t.Errorf("the rotated key was accepted without a JWKS fetch")
		}
		t.Logf("rotated key admitted after %d refusals, %d JWKS fetches in all", refused, jwks.fetches.Load())
		// k1 is gone from the set: its tokens are refused now, though
		// they passed (and were cached) before.
		do("/jwt/old-key", 401, "Authorization", "Bearer "+good)
	})

	t.Run("apikey", func(t *testing.T) {
		_, s := do("/key/a", 200, append([]string{"X-API-Key", apiKey}, spoof...)...)
		only(s, "X-Consumer-Name", "mobile")
		if s.Header.Get("X-Api-Key") != "" || s.Header.Get("X-Consumer-Tier") != "" {
			t.Errorf("upstream saw the key or spoofed identity headers: %v", s.Header)
		}
		resp, _ := do("/key/wrong", 401, append([]string{"X-API-Key", apiKey + "x"}, spoof...)...)
		if h := resp.Header.Get("WWW-Authenticate"); !strings.Contains(h, "ApiKey") {
			t.Errorf("wrong key: WWW-Authenticate %q", h)
		}
		do("/key/none", 401, spoof...)
		do("/key/twice", 400, "X-API-Key", apiKey, "X-API-Key", apiKey)
	})

	t.Run("basicauth", func(t *testing.T) {
		basic := func(user, pass string) string {
			return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
		}
		_, s := do("/basic/a", 200, append([]string{"Authorization", basic("ops", "s3cret-pass")}, spoof...)...)
		only(s, "X-Consumer-Name", "ops")
		resp, _ := do("/basic/wrong", 401, "Authorization", basic("ops", "wrong-pass"))
		if h := resp.Header.Get("WWW-Authenticate"); !strings.Contains(h, `Basic realm="staff"`) {
			t.Errorf("wrong password: WWW-Authenticate %q", h)
		}
		do("/basic/nobody", 401, "Authorization", basic("nobody", "s3cret-pass"))
		do("/basic/none", 401, spoof...)
	})

	// Every request the upstream got was one admitted above, and it got
	// them all: refused ones never reached it.
	if got := echo.hits.Load(); got != passed {
		t.Errorf("the upstream received %d requests, want the %d admitted", got, passed)
	}
	for _, c := range []struct{ filter, reason string }{
		{"jwt", "bad_signature"}, {"jwt", "missing"}, {"apikey", "invalid"}, {"apikey", "missing"}, {"basicauth", "invalid"},
	} {
		if v, ok := g.Metric("wasmgate_auth_failures_total", "filter="+c.filter, "reason="+c.reason); !ok || v < 1 {
			t.Errorf("wasmgate_auth_failures_total{filter=%q,reason=%q} = %v (found %v), want ≥ 1", c.filter, c.reason, v, ok)
		}
	}
}
