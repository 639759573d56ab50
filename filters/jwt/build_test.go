package jwt

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/testutil"
)

// A jwt filter builds outside a gateway (no Keeper): its JWKS source and
// token cache are then its own.
func TestBuildOutsideAGateway(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, rsaJWK("k1", rsaKey))
	c := mustConfig(t, jwksBlock(srv.URL, ""))
	ff, err := c.Build(&filter.BuildContext{Route: "r", Logger: slog.New(slog.DiscardHandler), Config: &config.Config{}})
	if err != nil {
		t.Fatal(err)
	}
	f := ff.(*Filter)
	t.Cleanup(func() { _ = f.keys.(*remoteKeys).Close() })
	waitKeys(t, f)
	if _, resp := run(f, "/", "Authorization", "Bearer "+sign(t, jwtlib.SigningMethodRS256, "k1", rsaKey, goodClaims())); resp != nil {
		t.Fatalf("refused: %s", resp.Body)
	}
	if f.cache == nil {
		t.Error("no token cache")
	}

	secret := strings.Repeat("s", 32)
	c = mustConfig(t, fmt.Sprintf(`{issuer: %q, audiences: [api], secret: %q}`, issuer, secret))
	if _, err := c.Build(&filter.BuildContext{Route: "r", Logger: slog.New(slog.DiscardHandler), Config: &config.Config{}}); err != nil {
		t.Fatal(err)
	}
}

// Build's errors name the field and say what was wrong, as the loader
// reports them.
func TestBuildErrors(t *testing.T) {
	dir := t.TempDir()
	if err := writeFile(dir+"/empty.json", []byte(`{"keys": []}`)); err != nil {
		t.Fatal(err)
	}
	consumers := `[{name: mobile}, {name: mobile2}]`
	for _, c := range []struct{ block, want string }{
		{fmt.Sprintf(`{issuer: x, audiences: [a], jwks_file: %q}`, dir+"/missing.pem"),
			"jwks_file: open " + dir + "/missing.pem: no such file or directory"},
		{fmt.Sprintf(`{issuer: x, audiences: [a], jwks_file: %q}`, dir+"/empty.json"),
			"jwks_file: " + dir + "/empty.json: no usable verification key"},
		{`{issuer: x, audiences: [a], jwks_url: "http://127.0.0.1:1/", anonymous: ghost}`,
			`anonymous: unknown consumer "ghost"; the anonymous consumer must be declared under consumers: (with no credentials, and the metadata its rate limits use)`},
		{`{issuer: x, audiences: [a], jwks_url: "http://127.0.0.1:1/", consumers: [mobile], anonymous: mobile2}`,
			`anonymous: consumer "mobile2" is not among this filter's consumers; add it there or choose another`},
	} {
		_, err := build(t, c.block, consumers, nil)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s:\n got %v\nwant %s", c.block, err, c.want)
		}
	}
}

// A signature failure is bad_signature whatever its text says: only the
// keyfunc's errAlgNotAllowed (and golang-jwt's unknown algorithms) are
// alg_not_allowed. Classification used to match "signing method" in the
// message.
func TestClassifyByIdentityNotText(t *testing.T) {
	for _, c := range []struct {
		err    error
		reason string
	}{
		{fmt.Errorf("%w: signing method RS256: verification failed", jwtlib.ErrTokenSignatureInvalid), "bad_signature"},
		{errors.Join(jwtlib.ErrTokenUnverifiable, errAlgNotAllowed), "alg_not_allowed"},
		{fmt.Errorf("%w: token is unverifiable: signing method (alg) is unavailable", jwtlib.ErrTokenUnverifiable), "alg_not_allowed"},
		{errors.Join(jwtlib.ErrTokenUnverifiable, errUnknownKid), "unknown_kid"},
	} {
		if r := classify(c.err); r.reason != c.reason {
			t.Errorf("%v: %s, want %s", c.err, r.reason, c.reason)
		}
	}
}

// The key source for a secret or a file reports the digest of the bytes
// its keys came from; a JWKS URL reports none (its sets have generations).
func TestKeySourceDigest(t *testing.T) {
	testKeys(t)
	secret := strings.Repeat("s", 32)
	bc := &filter.BuildContext{Logger: slog.New(slog.DiscardHandler), Keeper: testutil.NewKeeper(t)}
	_, d, err := mustConfig(t, fmt.Sprintf(`{issuer: x, audiences: [a], secret: %q}`, secret)).keySource(bc)
	if err != nil || d != sha256.Sum256([]byte(secret)) {
		t.Errorf("secret: digest %x, %v", d, err)
	}
	pemBytes := publicPEM(t)
	path := t.TempDir() + "/k.pem"
	if err := writeFile(path, pemBytes); err != nil {
		t.Fatal(err)
	}
	_, d, err = mustConfig(t, fmt.Sprintf(`{issuer: x, audiences: [a], jwks_file: %q}`, path)).keySource(bc)
	if err != nil || d != sha256.Sum256(pemBytes) {
		t.Errorf("file: digest %x, %v", d, err)
	}
	src, d, err := mustConfig(t, `{issuer: x, audiences: [a], jwks_url: "http://127.0.0.1:1/"}`).keySource(bc)
	if _, ok := src.(*remoteKeys); !ok || err != nil || d != ([32]byte{}) {
		t.Errorf("url: %T, digest %x, %v", src, d, err)
	}
}

// The token cache is kept across builds that change nothing it depends on,
// and is new when the key file's bytes change.
func TestTokenCacheKeptWhileKeysAre(t *testing.T) {
	testKeys(t)
	path := t.TempDir() + "/k.pem"
	if err := writeFile(path, publicPEM(t)); err != nil {
		t.Fatal(err)
	}
	k := testutil.NewKeeper(t)
	block := fmt.Sprintf(`{issuer: %q, audiences: [api], jwks_file: %q}`, issuer, path)
	first, err := build(t, block, "", k)
	if err != nil {
		t.Fatal(err)
	}
	same, err := build(t, block, "", k)
	if err != nil {
		t.Fatal(err)
	}
	if first.cache != same.cache {
		t.Error("an unchanged config and key file got a new token cache")
	}
	if err := writeFile(path, append(publicPEM(t), '\n')); err != nil {
		t.Fatal(err)
	}
	changed, err := build(t, block, "", k)
	if err != nil {
		t.Fatal(err)
	}
	if changed.cache == first.cache {
		t.Error("a changed key file shares the token cache verified under the old keys")
	}
	other, err := build(t, block, `[{name: mobile, jwt: [{subject: user-1}]}]`, k)
	if err != nil {
		t.Fatal(err)
	}
	if other.cache == changed.cache {
		t.Error("changed consumers share the token cache")
	}
}

// Claim rules are in claim-name order; forwarded headers are canonical and
// stripped from the client's request along with strip_headers.
func TestClaimRules(t *testing.T) {
	c := mustConfig(t, `{issuer: x, audiences: [a], secret: "`+strings.Repeat("s", 32)+`",
	  claims: {role: [admin], org: acme}, forward_claims: {sub: x-user, email: x-mail}, strip_headers: [x-extra]}`)
	claims, forward, strip := c.claimRules()
	if len(claims) != 2 || claims[0].name != "org" || claims[1].name != "role" || claims[0].values[0] != "acme" {
		t.Errorf("claims %+v, want org then role", claims)
	}
	if len(forward) != 2 || forward[0] != (forwardRule{"email", "X-Mail"}) || forward[1] != (forwardRule{"sub", "X-User"}) {
		t.Errorf("forward %+v", forward)
	}
	if strings.Join(strip, ",") != "X-Mail,X-User,X-Extra" {
		t.Errorf("strip %v", strip)
	}
}

// The most specific jwt: entry names the consumer: issuer and subject,
// then subject, then issuer.
func TestConsumerMapPrecedence(t *testing.T) {
	f, err := build(t, `{issuer: x, audiences: [a], secret: "`+strings.Repeat("s", 32)+`"}`, `
- {name: both, jwt: [{issuer: i, subject: s}]}
- {name: sub, jwt: [{subject: s}]}
- {name: iss, jwt: [{issuer: i}]}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ iss, sub, want string }{
		{"i", "s", "both"}, {"other", "s", "sub"}, {"i", "t", "iss"}, {"", "s", "sub"}, {"j", "t", ""},
	} {
		got := ""
		if cons := f.mapped.lookup(c.iss, c.sub); cons != nil {
			got = cons.Name
		}
		if got != c.want {
			t.Errorf("iss %q sub %q: %q, want %q", c.iss, c.sub, got, c.want)
		}
	}
}

func publicPEM(t testing.TB) []byte {
	der, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}
