package demo

import (
	"os"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"
)

// DemoAPIKey is the demo consumer's API key; demo.yaml holds its SHA-256.
const DemoAPIKey = "wasmgate-demo-key-7f3a9c2e5b1d"

// demoJWTSecret signs demo tokens unless WASMGATE_DEMO_JWT_SECRET is set;
// demo.yaml uses the same default. It is public: the demo only listens on
// loopback unless told otherwise, and must never guard anything real.
const demoJWTSecret = "wasmgate-demo-secret-not-for-production-use"

// DemoToken returns an HS256 token for the demo's /api/me route, valid for
// 30 days, signed with the secret the demo config reads.
func DemoToken() string {
	secret := os.Getenv("WASMGATE_DEMO_JWT_SECRET")
	if secret == "" {
		secret = demoJWTSecret
	}
	now := time.Now()
	tok, err := jwtlib.NewWithClaims(jwtlib.SigningMethodHS256, jwtlib.MapClaims{
		"iss":   "wasmgate-demo",
		"aud":   "wasmgate-demo",
		"sub":   "demo-user",
		"email": "demo-user@example.com",
		"iat":   now.Unix(),
		"exp":   now.Add(30 * 24 * time.Hour).Unix(),
	}).SignedString([]byte(secret))
	if err != nil {
		return "(token could not be signed: " + err.Error() + ")"
	}
	return tok
}
