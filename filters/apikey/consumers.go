package apikey

import (
	"github.com/wasmgate/wasmgate/core/config"
)

// The keys are the consumers': consumers[].api_keys is this package's
// credential block.

func init() {
	config.RegisterCredential("api_keys", checkKeys)
}

// Key is one API key of a consumer, given either as the hex SHA-256 of the
// key or as the key itself, which should then come from ${ENV} ("key:
// ${PARTNER_KEY}"). Loading hashes a clear key into Hash and forgets it,
// so a loaded config never holds one.
type Key struct {
	SHA256 string `yaml:"sha256" redact:"secret"` // 64 hex digits
	Key    string `yaml:"key" redact:"secret"`    // cleared at load, after hashing

	// Hash is the key's SHA-256, filled at load from either field.
	Hash [32]byte `yaml:"-"`
}

// KeysOf returns the consumer's API keys.
func KeysOf(c *config.Consumer) []Key {
	if k := config.Credential[[]Key](c, "api_keys"); k != nil {
		return *k
	}
	return nil
}

// checkKeys hashes clear keys, so that no loaded config holds one, and
// refuses a key two consumers share: the identity a request gets would
// depend on config order.
func checkKeys(v *config.Validator, blocks []*[]Key) {
	owners := map[[32]byte]string{}
	for i, keys := range blocks {
		if keys == nil {
			continue
		}
		name := v.Config().Consumers[i].Name
		for j := range *keys {
			k := &(*keys)[j]
			p := config.JoinIndex(config.JoinIndex("consumers", i)+".api_keys", j)
			if !hashKey(v, p, k) {
				continue
			}
			if other, dup := owners[k.Hash]; dup {
				v.Errorf(p, "this key is already a key of consumer %q; a key identifies exactly one consumer", other)
			}
			owners[k.Hash] = name
		}
	}
}

// hashKey fills k.Hash from whichever form was given and clears the clear key.
func hashKey(v *config.Validator, p string, k *Key) bool {
	var ok bool
	k.Hash, ok = v.SecretHash(p, "key", "key", "PARTNER_KEY", &k.Key, k.SHA256)
	return ok
}
