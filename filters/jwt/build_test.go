package jwt

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
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
