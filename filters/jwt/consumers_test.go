package jwt

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/wasmgate/wasmgate/core/config"
)

// The verified-token cache is kept across reloads only while what a cached
// verification decided still holds: a token mapped to another consumer, or
// a consumer with other metadata, must not be served from it.
func TestTokenCacheKeyFollowsConsumers(t *testing.T) {
	fp := func(consumers string) string {
		t.Helper()
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(consumers), &n); err != nil {
			t.Fatal(err)
		}
		cfg := &config.Config{}
		if err := config.Decode("", &n, "consumers", &cfg.Consumers); err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		writeConsumers(h, cfg)
		return hex.EncodeToString(h.Sum(nil))
	}
	base := fp(`[{name: a, jwt: [{subject: s}]}, {name: b}]`)
	if base != fp(`[{name: a, jwt: [{subject: s}]}, {name: b}]`) {
		t.Error("the same consumers give another fingerprint")
	}
	for _, changed := range []string{
		`[{name: a}, {name: b, jwt: [{subject: s}]}]`,
		`[{name: a, jwt: [{subject: t}]}, {name: b}]`,
		`[{name: a, jwt: [{subject: s}], metadata: {tier: gold}}, {name: b}]`,
	} {
		if fp(changed) == base {
			t.Errorf("consumers %s share the fingerprint of the base", changed)
		}
	}
}
