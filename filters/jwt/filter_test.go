package jwt

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/testutil"
)

func jwksBlock(url string, extra string) string {
	if !strings.Contains(extra, "jwks_min_refresh") {
		extra += ", jwks_min_refresh: 200ms"
	}
	return fmt.Sprintf(`{issuer: %q, audiences: [api], jwks_url: %q, forward_claims: {email: X-User-Email}%s}`, issuer, url, extra)
}

// The attack matrix of issue 4: each must be refused; a valid token passes.
func TestAttackMatrix(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, rsaJWK("k1", rsaKey), ecJWK("e1", ecKey))
	f := mustBuild(t, jwksBlock(srv.URL, ", disable_cache: true"), "")
	waitKeys(t, f)

	pubDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	good := sign(t, jwtlib.SigningMethodRS256, "k1", rsaKey, goodClaims())
	parts := strings.Split(good, ".")
	now := time.Now()

	cases := []struct {
		name, token string
		reason      string
		status      int
	}{
		{"alg none", b64(`{"alg":"none","typ":"JWT","kid":"k1"}`) + "." + parts[1] + ".", "alg_not_allowed", 401},
		{"alg none without kid", b64(`{"alg":"none"}`) + "." + parts[1] + ".", "alg_not_allowed", 401},
		{"HS256 signed with the RSA public key", sign(t, jwtlib.SigningMethodHS256, "k1", pubPEM, goodClaims()), "alg_not_allowed", 401},
		{"expired", sign(t, jwtlib.SigningMethodRS256, "k1", rsaKey, with(goodClaims(), "exp", now.Add(-time.Hour).Unix())), "expired", 401},
		{"future nbf", sign(t, jwtlib.SigningMethodRS256, "k1", rsaKey, with(goodClaims(), "nbf", now.Add(time.Hour).Unix())), "not_yet_valid", 401},
		{"future iat", sign(t, jwtlib.SigningMethodRS256, "k1", rsaKey, with(goodClaims(), "iat", now.Add(time.Hour).Unix())), "issued_in_future", 401},
		{"wrong iss", sign(t, jwtlib.SigningMethodRS256, "k1", rsaKey, with(goodClaims(), "iss", "https://evil.example/")), "wrong_issuer", 401},
		{"missing iss", sign(t, jwtlib.SigningMethodRS256, "k1", rsaKey, with(goodClaims(), "iss", nil)), "", 401},
		{"wrong aud", sign(t, jwtlib.SigningMethodRS256, "k1", rsaKey, with(goodClaims(), "aud", "other")), "wrong_audience", 401},
		{"missing exp", sign(t, jwtlib.SigningMethodRS256, "k1", rsaKey, with(goodClaims(), "exp", nil)), "missing_claim", 401},
		{"tampered payload", parts[0] + "." + b64(strings.Replace(mustDecode(parts[1]), "user-1", "admin", 1)) + "." + parts[2], "bad_signature", 401},
		{"stripped signature", parts[0] + "." + parts[1] + ".", "bad_signature", 401},
		{"two segments", parts[0] + "." + parts[1], "malformed", 401},
		{"garbage", "not-a-token", "malformed", 401},
		{"signed by another key under k1", sign(t, jwtlib.SigningMethodRS256, "k1", rsaKey2, goodClaims()), "bad_signature", 401},
		{"ES256 under an RSA kid", sign(t, jwtlib.SigningMethodES256, "k1", ecKey, goodClaims()), "wrong_key_type", 401},
		{"RS256 under an EC kid", sign(t, jwtlib.SigningMethodRS256, "e1", rsaKey, goodClaims()), "wrong_key_type", 401},
		{"crit header", signWithHeader(t, "crit", []string{"exp"}), "crit", 401},
		{"jku is never followed", signWithHeader(t, "jku", "http://127.0.0.1:1/evil"), "", 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := testutil.Meters.AuthFailures("jwt", c.reason)
			_, resp := run(f, "/", "Authorization", "Bearer "+c.token)
			if c.status == 200 {
				if resp != nil {
					t.Fatalf("refused with %d %s", resp.Status, resp.Body)
				}
				return
			}
			if resp == nil {
				t.Fatal("accepted")
			}
			if resp.Status != c.status {
				t.Errorf("status %d, want %d (%s)", resp.Status, c.status, resp.Body)
			}
			if wa := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(wa, `Bearer realm="wasmgate", error="invalid_token"`) {
				t.Errorf("WWW-Authenticate %q, want a Bearer invalid_token challenge", wa)
			}
			if c.reason != "" && testutil.Meters.AuthFailures("jwt", c.reason) != before+1 {
				t.Errorf("failure %q not counted (%s)", c.reason, resp.Body)
			}
		})
	}

	t.Run("valid RS256", func(t *testing.T) {
		x, resp := run(f, "/", "Authorization", "Bearer "+good, "X-Consumer-Name", "admin", "X-User-Email", "spoof@evil")
		if resp != nil {
			t.Fatalf("refused: %d %s", resp.Status, resp.Body)
		}
		h := x.Request.Header
		if h.Get("X-Consumer-Name") != "user-1" || x.Consumer.Name != "user-1" {
			t.Errorf("consumer %q / header %q, want user-1", x.Consumer.Name, h.Get("X-Consumer-Name"))
		}
		if got := h.Values("X-User-Email"); len(got) != 1 || got[0] != "u1@example.com" {
			t.Errorf("X-User-Email %q, want only the claim", got)
		}
		if Claims(x)["sub"] != "user-1" {
			t.Errorf("claims not on the exchange")
		}
	})
	t.Run("valid ES256", func(t *testing.T) {
		if _, resp := run(f, "/", "Authorization", "Bearer "+sign(t, jwtlib.SigningMethodES256, "e1", ecKey, goodClaims())); resp != nil {
			t.Fatalf("refused: %d %s", resp.Status, resp.Body)
		}
	})
}

func mustDecode(s string) string {
	b, err := jwtlib.NewParser().DecodeSegment(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func signWithHeader(t *testing.T, k string, v any) string {
	tok := jwtlib.NewWithClaims(jwtlib.SigningMethodRS256, goodClaims())
	tok.Header["kid"] = "k1"
	tok.Header[k] = v
	s, err := tok.SignedString(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// An unknown kid triggers one JWKS fetch however many requests carry it,
// and a rotated key is found by that fetch.
func TestUnknownKidRefreshesOnce(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, rsaJWK("k1", rsaKey))
	f := mustBuild(t, jwksBlock(srv.URL, ", jwks_min_refresh: 1h, jwks_refresh: 1h"), "")
	waitKeys(t, f)
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("%d fetches at start, want 1", n)
	}
	// jwks_min_refresh 1h: the start fetch counts, so no refresh may follow.
	bogus := sign(t, jwtlib.SigningMethodRS256, "nope", rsaKey, goodClaims())
	for range 20 {
		if _, resp := run(f, "/", "Authorization", "Bearer "+bogus); resp == nil || resp.Status != 401 {
			t.Fatal("a token with an unknown kid was accepted")
		}
	}
	if n := srv.hits.Load(); n != 1 {
		t.Errorf("%d fetches, want 1: refreshes must be rate-limited", n)
	}

	// After the min interval, a burst of unknown kids costs exactly one
	// fetch. The limiter's clock is stepped past jwks_min_refresh rather
	// than waited out: with a short interval, a burst that a loaded machine
	// spreads over more than it earned a second fetch (3 seen under load).
	srv2 := newJWKSServer(t, rsaJWK("k1", rsaKey))
	f2 := mustBuild(t, jwksBlock(srv2.URL, ", jwks_min_refresh: 1h, jwks_refresh: 1h"), "")
	waitKeys(t, f2)
	f2.keys.(*remoteKeys).ahead.Store(int64(time.Hour + time.Minute))
	srv2.setKeys(rsaJWK("k1", rsaKey), rsaJWK("k2", rsaKey2)) // the issuer rotates
	rotated := sign(t, jwtlib.SigningMethodRS256, "k2", rsaKey2, goodClaims())
	unknown := sign(t, jwtlib.SigningMethodRS256, "k9", rsaKey2, goodClaims())
	var wg sync.WaitGroup
	results := make(chan int, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok := unknown
			if i == 0 {
				tok = rotated
			}
			_, resp := run(f2, "/", "Authorization", "Bearer "+tok)
			if resp == nil {
				results <- 200
			} else {
				results <- resp.Status
			}
		}()
	}
	wg.Wait()
	close(results)
	if n := srv2.hits.Load(); n != 2 {
		t.Errorf("%d fetches, want 2 (start + exactly one refresh for 40 requests)", n)
	}
	// The rotated key is now known: its token passes.
	if _, resp := run(f2, "/", "Authorization", "Bearer "+rotated); resp != nil {
		t.Errorf("token of the rotated key refused: %d %s", resp.Status, resp.Body)
	}
	if n := srv2.hits.Load(); n != 2 {
		t.Errorf("%d fetches after a known kid, want still 2", n)
	}
}

// With the JWKS endpoint down, the keys fetched before keep working.
func TestJWKSDownKeepsCachedKeys(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, rsaJWK("k1", rsaKey))
	f := mustBuild(t, jwksBlock(srv.URL, ", jwks_refresh: 50ms, jwks_min_refresh: 10ms, disable_cache: true"), "")
	waitKeys(t, f)
	srv.down.Store(true)
	before := srv.hits.Load()
	deadline := time.Now().Add(5 * time.Second)
	for srv.hits.Load() < before+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // poll interval; the refresh attempts (every 50ms) are what is waited for
	}
	if srv.hits.Load() < before+2 {
		t.Fatal("no refresh attempts while down")
	}
	// An unknown kid forces a (failing) fetch; the old keys must survive it.
	run(f, "/", "Authorization", "Bearer "+sign(t, jwtlib.SigningMethodRS256, "k9", rsaKey, goodClaims()))
	if _, resp := run(f, "/", "Authorization", "Bearer "+sign(t, jwtlib.SigningMethodRS256, "k1", rsaKey, goodClaims())); resp != nil {
		t.Fatalf("valid token refused while the JWKS is down: %d %s", resp.Status, resp.Body)
	}
}

func TestOversizedTokenRefusedBeforeParsing(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, rsaJWK("k1", rsaKey))
	f := mustBuild(t, jwksBlock(srv.URL, ""), "")
	waitKeys(t, f)
	big := "Bearer " + strings.Repeat("a", 8<<10)
	before := testutil.Meters.AuthFailures("jwt", "too_large")
	_, resp := run(f, "/", "Authorization", big)
	if resp == nil || resp.Status != 401 || testutil.Meters.AuthFailures("jwt", "too_large") != before+1 {
		t.Fatalf("an Authorization over 8KiB was not refused as too large: %v", resp)
	}
	// A token in the query is bounded too.
	f2 := mustBuild(t, jwksBlock(srv.URL, ", from: {query: access_token}"), "")
	if _, resp := run(f2, "/?access_token="+strings.Repeat("a", 9<<10)); resp == nil || resp.Status != 401 {
		t.Fatal("an oversized query token was not refused")
	}
}

func TestTokenPlacesAndAmbiguity(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, rsaJWK("k1", rsaKey))
	f := mustBuild(t, jwksBlock(srv.URL, ", from: {header: Authorization, cookie: session, query: access_token}, forward_token: false"), "")
	waitKeys(t, f)
	tok := sign(t, jwtlib.SigningMethodRS256, "k1", rsaKey, goodClaims())

	x, resp := run(f, "/p?access_token="+tok+"&keep=1")
	if resp != nil {
		t.Fatalf("query token refused: %s", resp.Body)
	}
	if q := x.Request.URL.RawQuery; q != "keep=1" {
		t.Errorf("query after forward_token false: %q, want keep=1", q)
	}
	x, resp = run(f, "/", "Cookie", "a=1; session="+tok)
	if resp != nil {
		t.Fatalf("cookie token refused: %s", resp.Body)
	}
	if c := x.Request.Header.Get("Cookie"); strings.Contains(c, "session") || !strings.Contains(c, "a=1") {
		t.Errorf("Cookie after forward_token false: %q", c)
	}
	x, resp = run(f, "/", "Authorization", "Bearer "+tok)
	if resp != nil || x.Request.Header.Get("Authorization") != "" {
		t.Errorf("header token: resp %v, Authorization forwarded %q", resp, x.Request.Header.Get("Authorization"))
	}
	_, resp = run(f, "/?access_token="+tok, "Authorization", "Bearer "+tok)
	if resp == nil || resp.Status != 400 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_request") {
		t.Errorf("two tokens: %v, want 400 invalid_request", resp)
	}
	_, resp = run(f, "/", "Authorization", "Bearer "+tok, "Authorization", "Bearer "+tok)
	if resp == nil || resp.Status != 400 {
		t.Errorf("two Authorization headers: %v, want 400", resp)
	}
	_, resp = run(f, "/")
	if resp == nil || resp.Status != 401 || resp.Header.Get("WWW-Authenticate") != `Bearer realm="wasmgate"` {
		t.Errorf("no token: %v, want 401 with a bare Bearer challenge", resp)
	}
	_, resp = run(f, "/", "Authorization", "Basic dXNlcjpwYXNz")
	if resp == nil || resp.Status != 401 {
		t.Errorf("Basic credentials: %v, want 401", resp)
	}
}

func TestScopesClaimsAndConsumers(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, rsaJWK("k1", rsaKey))
	consumers := `
- name: mobile
  metadata: {tier: gold}
  jwt: [{issuer: "https://auth.example.com/", subject: user-1}]
- name: partner
  jwt: [{issuer: "https://auth.example.com/"}]
`
	f := mustBuild(t, jwksBlock(srv.URL, ", scopes: [orders:read], claims: {role: [admin, ops]}"), consumers)
	waitKeys(t, f)

	ok := sign(t, jwtlib.SigningMethodRS256, "k1", rsaKey, with(goodClaims(), "role", "ops"))
	x, resp := run(f, "/", "Authorization", "Bearer "+ok)
	if resp != nil {
		t.Fatalf("refused: %s", resp.Body)
	}
	if x.Consumer.Name != "mobile" || x.Consumer.Metadata["tier"] != "gold" {
		t.Errorf("consumer %+v, want mobile with its metadata", x.Consumer)
	}
	x, resp = run(f, "/", "Authorization", "Bearer "+sign(t, jwtlib.SigningMethodRS256, "k1", rsaKey, with(goodClaims(), "role", []any{"x", "admin"}, "sub", "svc-9")))
	if resp != nil || x.Consumer.Name != "partner" {
		t.Errorf("issuer-only mapping: %v %v, want partner", resp, x.Consumer)
	}

	noScope := sign(t, jwtlib.SigningMethodRS256, "k1", rsaKey, with(goodClaims(), "role", "ops", "scope", "profile"))
	_, resp = run(f, "/", "Authorization", "Bearer "+noScope)
	if resp == nil || resp.Status != 403 || resp.Header.Get("WWW-Authenticate") != `Bearer realm="wasmgate", error="insufficient_scope", scope="orders:read"` {
		t.Errorf("missing scope: %v %v, want 403 insufficient_scope", resp, resp.Header)
	}
	scp := sign(t, jwtlib.SigningMethodRS256, "k1", rsaKey, with(goodClaims(), "role", "ops", "scope", nil, "scp", []any{"orders:read"}))
	if _, resp = run(f, "/", "Authorization", "Bearer "+scp); resp != nil {
		t.Errorf("scp array refused: %s", resp.Body)
	}
	wrongRole := sign(t, jwtlib.SigningMethodRS256, "k1", rsaKey, with(goodClaims(), "role", "guest"))
	if _, resp = run(f, "/", "Authorization", "Bearer "+wrongRole); resp == nil || resp.Status != 403 {
		t.Errorf("wrong role: %v, want 403", resp)
	}

	// Unmapped subjects: named after sub, unless they borrow a consumer's name.
	f2 := mustBuild(t, jwksBlock(srv.URL, ""), `[{name: mobile, jwt: [{issuer: "https://other/", subject: x}]}]`)
	waitKeys(t, f2)
	x, resp = run(f2, "/", "Authorization", "Bearer "+sign(t, jwtlib.SigningMethodRS256, "k1", rsaKey, with(goodClaims(), "sub", "alice")))
	if resp != nil || x.Consumer.Name != "alice" {
		t.Errorf("unmapped subject: %v %v, want consumer alice", resp, x.Consumer)
	}
	_, resp = run(f2, "/", "Authorization", "Bearer "+sign(t, jwtlib.SigningMethodRS256, "k1", rsaKey, with(goodClaims(), "sub", "mobile")))
	if resp == nil || resp.Status != 403 {
		t.Errorf("a subject borrowing a consumer's name: %v, want 403", resp)
	}
	f3 := mustBuild(t, jwksBlock(srv.URL, ", require_consumer: true"), "")
	waitKeys(t, f3)
	if _, resp = run(f3, "/", "Authorization", "Bearer "+ok); resp == nil || resp.Status != 403 {
		t.Errorf("require_consumer with no mapping: %v, want 403", resp)
	}
}

// The cache: a hot token is served from it; a key rotation invalidates it;
// entries end with the token.
func TestTokenCache(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, rsaJWK("k1", rsaKey))
	f := mustBuild(t, jwksBlock(srv.URL, ", jwks_min_refresh: 10ms"), "")
	waitKeys(t, f)
	tok := sign(t, jwtlib.SigningMethodRS256, "k1", rsaKey, goodClaims())
	for range 3 {
		if x, resp := run(f, "/", "Authorization", "Bearer "+tok); resp != nil || x.Request.Header.Get("X-User-Email") != "u1@example.com" {
			t.Fatalf("refused or headers missing: %v", resp)
		}
	}
	if n := f.cache.len(); n != 1 {
		t.Fatalf("cache holds %d tokens, want 1", n)
	}
	// The issuer drops k1: the cached token must be checked again, and fail.
	time.Sleep(20 * time.Millisecond) // past jwks_min_refresh (10ms): the unknown kid below may refresh
	srv.setKeys(rsaJWK("k2", rsaKey2))
	run(f, "/", "Authorization", "Bearer "+sign(t, jwtlib.SigningMethodRS256, "k2", rsaKey2, goodClaims()))
	if _, resp := run(f, "/", "Authorization", "Bearer "+tok); resp == nil {
		t.Error("a cached token of a removed key is still accepted")
	}

	// A token expiring within the TTL is cached only until it expires.
	// exp is in whole seconds: take one at least 1.5s ahead, so that a
	// truncated Unix() cannot leave the token only milliseconds to live.
	expAt := time.Now().Add(1500 * time.Millisecond).Truncate(time.Second).Add(time.Second)
	short := sign(t, jwtlib.SigningMethodRS256, "k2", rsaKey2, with(goodClaims(), "exp", expAt.Unix()))
	f0 := mustBuild(t, jwksBlock(srv.URL, ", leeway: 0s"), "")
	waitKeys(t, f0)
	if _, resp := run(f0, "/", "Authorization", "Bearer "+short); resp != nil {
		t.Fatalf("refused: %s", resp.Body)
	}
	time.Sleep(time.Until(expAt) + 100*time.Millisecond) // the token's exp must really pass
	if _, resp := run(f0, "/", "Authorization", "Bearer "+short); resp == nil {
		t.Error("an expired token was served from the cache")
	}
}

func TestHMACSecret(t *testing.T) {
	secret := strings.Repeat("s", 32)
	f := mustBuild(t, fmt.Sprintf(`{issuer: %q, audiences: [api], secret: %q}`, issuer, secret), "")
	if _, resp := run(f, "/", "Authorization", "Bearer "+sign(t, jwtlib.SigningMethodHS256, "", []byte(secret), goodClaims())); resp != nil {
		t.Fatalf("HS256 refused: %s", resp.Body)
	}
	if _, resp := run(f, "/", "Authorization", "Bearer "+sign(t, jwtlib.SigningMethodHS256, "", []byte(strings.Repeat("x", 32)), goodClaims())); resp == nil {
		t.Fatal("HS256 with another secret accepted")
	}
	if _, resp := run(f, "/", "Authorization", "Bearer "+sign(t, jwtlib.SigningMethodHS384, "", []byte(secret), goodClaims())); resp == nil {
		t.Fatal("HS384 accepted though only HS256 is allowed by default")
	}
}

func TestPEMFile(t *testing.T) {
	testKeys(t)
	der, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	path := t.TempDir() + "/pub.pem"
	if err := writeFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})); err != nil {
		t.Fatal(err)
	}
	f := mustBuild(t, fmt.Sprintf(`{issuer: %q, audiences: [api], jwks_file: %q}`, issuer, path), "")
	if _, resp := run(f, "/", "Authorization", "Bearer "+sign(t, jwtlib.SigningMethodRS256, "any", rsaKey, goodClaims())); resp != nil {
		t.Fatalf("refused: %s", resp.Body)
	}
	if _, resp := run(f, "/", "Authorization", "Bearer "+sign(t, jwtlib.SigningMethodRS256, "", rsaKey2, goodClaims())); resp == nil {
		t.Fatal("a token of another key accepted")
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct{ block, want string }{
		{`{issuer: x, audiences: [a]}`, "exactly one key source"},
		{`{issuer: x, audiences: [a], secret: short}`, "at least 32"},
		{`{issuer: x, audiences: [a], jwks_url: "http://k", algorithms: [none]}`, `"none" means an unsigned token`},
		{`{issuer: x, audiences: [a], jwks_url: "http://k", algorithms: [HS256]}`, "needs a secret"},
		{`{issuer: x, audiences: [a], secret: "` + strings.Repeat("s", 32) + `", algorithms: [RS256]}`, "public-key algorithm"},
		{`{audiences: [a], jwks_url: "http://k"}`, "issuer: required"},
		{`{issuer: x, jwks_url: "http://k"}`, "audiences: required"},
		{`{issuer: x, audiences: [a], jwks_url: "ftp://k"}`, "not an http(s) URL"},
		{`{issuer: x, audiences: [a], jwks_url: "http://k", forward_claims: {sub: "bad header"}}`, "not a valid header name"},
	}
	for _, c := range cases {
		_, err := build(t, c.block, "", nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.block, err, c.want)
		}
	}
	if _, err := build(t, `{issuer: x, audiences: [a], jwks_url: "http://127.0.0.1:1/", consumers: [ghost]}`, "", nil); err == nil || !strings.Contains(err.Error(), `no consumer is named "ghost"`) {
		t.Errorf("unknown consumer: %v", err)
	}
}

// Claims reach the core's claim accessor ({claim.NAME} templates, rate limit keys).
func TestClaimsPublishedForTheCore(t *testing.T) {
	secret := strings.Repeat("s", 32)
	f := mustBuild(t, fmt.Sprintf(`{issuer: %q, audiences: [api], secret: %q}`, issuer, secret), "")
	x, resp := run(f, "/", "Authorization", "Bearer "+sign(t, jwtlib.SigningMethodHS256, "", []byte(secret), with(goodClaims(), "tier", "gold")))
	if resp != nil {
		t.Fatal(string(resp.Body))
	}
	if v, ok := filter.Claim(x, "tier"); !ok || v != "gold" {
		t.Errorf("filter.Claim(tier) = %q, %v; want gold", v, ok)
	}
}
