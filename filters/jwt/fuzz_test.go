package jwt

import (
	"strings"
	"testing"

	jwtlib "github.com/golang-jwt/jwt/v5"
)

// FuzzVerify feeds arbitrary bearer tokens to a JWT filter whose keys are
// one RSA and one EC key. It must never panic, and whatever it accepts must
// be a token an independent, strict verification with those keys accepts
// too: fuzzing cannot forge its way past the signature.
func FuzzVerify(f *testing.F) {
	testKeys(f)
	srv := newJWKSServer(f, rsaJWK("k1", rsaKey), ecJWK("e1", ecKey))
	flt := mustBuild(f, jwksBlock(srv.URL, ", disable_cache: true"), "")
	waitKeys(f, flt)
	good := sign(f, jwtlib.SigningMethodRS256, "k1", rsaKey, goodClaims())
	parts := strings.Split(good, ".")
	for _, s := range []string{
		good,
		sign(f, jwtlib.SigningMethodES256, "e1", ecKey, goodClaims()),
		b64(`{"alg":"none","kid":"k1"}`) + "." + parts[1] + ".",
		parts[0] + "." + parts[1] + ".",
		parts[0] + "." + parts[1],
		b64(`{"alg":"RS256","kid":"k1","crit":["x"]}`) + "." + parts[1] + "." + parts[2],
		"", ".", "..", "a.b.c", strings.Repeat("A", 9000),
	} {
		f.Add(s)
	}
	keyFor := func(tok *jwtlib.Token) (any, error) {
		if tok.Method.Alg() == "ES256" {
			return &ecKey.PublicKey, nil
		}
		return &rsaKey.PublicKey, nil
	}
	f.Fuzz(func(t *testing.T, token string) {
		_, resp := run(flt, "/", "Authorization", "Bearer "+token)
		if resp != nil {
			if resp.Status < 400 {
				t.Fatalf("refusal with status %d", resp.Status)
			}
			return
		}
		if _, err := jwtlib.Parse(token, keyFor, jwtlib.WithValidMethods([]string{"RS256", "ES256"})); err != nil {
			t.Fatalf("the filter accepted %q, which does not verify: %v", token, err)
		}
	})
}
