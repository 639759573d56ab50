package jwt

import (
	"net/http/httptest"
	"testing"

	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/wasmgate/wasmgate/core/filter"
)

func benchFilter(b *testing.B, extra string) *Filter {
	testKeys(b)
	srv := newJWKSServer(b, rsaJWK("k1", rsaKey))
	f := mustBuild(b, jwksBlock(srv.URL, extra), "")
	waitKeys(b, f)
	return f
}

// A hot token: the cache answers (hash + lookup + identity headers).
func BenchmarkRS256Cached(b *testing.B) {
	f := benchFilter(b, "")
	tok := "Bearer " + sign(b, jwtlib.SigningMethodRS256, "k1", rsaKey, goodClaims())
	r := httptest.NewRequest("GET", "/", nil)
	x := &filter.Exchange{Request: r}
	b.ReportAllocs()
	r.Header["Authorization"] = []string{tok} // forward_token keeps it
	for b.Loop() {
		x.Consumer = nil
		if resp := f.OnRequest(x); resp != nil {
			b.Fatal(string(resp.Body))
		}
	}
}

// Distinct tokens: every request pays the RS256 signature check and claims
// parsing (the cache is off, as for a token seen once).
func BenchmarkRS256Uncached(b *testing.B) {
	f := benchFilter(b, ", disable_cache: true")
	tok := "Bearer " + sign(b, jwtlib.SigningMethodRS256, "k1", rsaKey, goodClaims())
	r := httptest.NewRequest("GET", "/", nil)
	x := &filter.Exchange{Request: r}
	b.ReportAllocs()
	r.Header["Authorization"] = []string{tok} // forward_token keeps it
	for b.Loop() {
		x.Consumer = nil
		if resp := f.OnRequest(x); resp != nil {
			b.Fatal(string(resp.Body))
		}
	}
}
