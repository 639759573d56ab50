package jwt

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"
	"go.yaml.in/yaml/v3"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/testutil"
)

var (
	keysOnce sync.Once
	rsaKey   *rsa.PrivateKey // kid "k1"
	rsaKey2  *rsa.PrivateKey // kid "k2", published later (rotation)
	ecKey    *ecdsa.PrivateKey
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if rsaKey2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
	})
}

func rsaJWK(kid string, k *rsa.PrivateKey) map[string]any {
	return map[string]any{
		"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
	}
}

func ecJWK(kid string, k *ecdsa.PrivateKey) map[string]any {
	pt, _ := k.PublicKey.Bytes() // 0x04 || X || Y
	return map[string]any{
		"kty": "EC", "kid": kid, "crv": "P-256",
		"x": base64.RawURLEncoding.EncodeToString(pt[1:33]),
		"y": base64.RawURLEncoding.EncodeToString(pt[33:]),
	}
}

// jwksServer is a real JWKS endpoint that counts its hits and can fail.
type jwksServer struct {
	*httptest.Server
	hits atomic.Int64
	down atomic.Bool
	mu   sync.Mutex
	keys []map[string]any
}

func newJWKSServer(t testing.TB, keys ...map[string]any) *jwksServer {
	s := &jwksServer{keys: keys}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if s.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": s.keys})
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) setKeys(keys ...map[string]any) {
	s.mu.Lock()
	s.keys = keys
	s.mu.Unlock()
}

// build decodes, validates and builds a jwt block; consumers is YAML for
// the consumers section ("" for none).
func build(t testing.TB, block, consumers string, k *testutil.Keeper) (*Filter, error) {
	t.Helper()
	c, err := decode(t, block)
	if err != nil {
		return nil, err
	}
	cfg := &config.Config{}
	if consumers != "" {
		var cn yaml.Node
		if err := yaml.Unmarshal([]byte(consumers), &cn); err != nil {
			t.Fatal(err)
		}
		if err := config.Decode("", &cn, "consumers", &cfg.Consumers); err != nil {
			t.Fatal(err)
		}
	}
	if k == nil {
		k = testutil.NewKeeper(t)
	}
	f, err := c.Build(&filter.BuildContext{Route: "r", Logger: slog.New(slog.DiscardHandler), Config: cfg, Keeper: k, Meter: testutil.Meters})
	if err != nil {
		return nil, err
	}
	return f.(*Filter), nil
}

// decode decodes and validates a jwt block.
func decode(t testing.TB, block string) (*Config, error) {
	t.Helper()
	var node yaml.Node
	if err := yaml.Unmarshal([]byte(block), &node); err != nil {
		t.Fatal(err)
	}
	c := new(Config)
	if err := config.Decode("", &node, "jwt", c); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func mustConfig(t testing.TB, block string) *Config {
	t.Helper()
	c, err := decode(t, block)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustBuild(t testing.TB, block, consumers string) *Filter {
	t.Helper()
	f, err := build(t, block, consumers, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// waitKeys waits for the first JWKS fetch.
func waitKeys(t testing.TB, f *Filter) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for f.keys.current() == nil {
		if time.Now().After(deadline) {
			t.Fatal("the JWKS was never fetched")
		}
		time.Sleep(5 * time.Millisecond) // poll interval; the fetched key set is what is waited for
	}
}

func sign(t testing.TB, method jwtlib.SigningMethod, kid string, key any, claims jwtlib.MapClaims) string {
	t.Helper()
	tok := jwtlib.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const issuer = "https://auth.example.com/"

func goodClaims() jwtlib.MapClaims {
	now := time.Now()
	return jwtlib.MapClaims{
		"iss": issuer, "aud": "api", "sub": "user-1",
		"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "nbf": now.Unix(),
		"scope": "orders:read profile", "email": "u1@example.com",
	}
}

func with(c jwtlib.MapClaims, kv ...any) jwtlib.MapClaims {
	out := jwtlib.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

// run sends a request with the given headers through f.
func run(f *Filter, target string, hdr ...string) (*filter.Exchange, *filter.Response) {
	r := httptest.NewRequest("GET", target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	x := &filter.Exchange{Request: r}
	return x, f.OnRequest(x)
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func bodyHas(resp *filter.Response, s string) bool { return strings.Contains(string(resp.Body), s) }

func writeFile(path string, b []byte) error { return os.WriteFile(path, b, 0o600) }
