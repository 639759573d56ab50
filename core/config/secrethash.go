package config

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// SecretHash reads a secret given either in clear (field name clearName,
// value *clear, best from ${ENV}) or as its hex SHA-256 (field sha256): it
// returns the hash and clears the clear value, so a loaded config never
// holds it. what names the secret in messages ("key", "token"), env is an
// example variable. Exactly one form must be given, a clear secret must be
// at least MinSecretLen bytes; false when the block was refused.
func (v *Validator) SecretHash(p, what, clearName, env string, clear *string, hexSum string) (sum [32]byte, ok bool) {
	upper := strings.ToUpper(what)
	defer func() { *clear = "" }()
	switch {
	case (hexSum == "") == (*clear == ""):
		v.Errorf(p, `give exactly one of sha256 (the %s's hex SHA-256, e.g. from "printf %%s %s | sha256sum") or %s (the %s itself, from the environment: %s: ${%s})`,
			what, upper, clearName, what, clearName, env)
		return sum, false
	case *clear != "":
		if len(*clear) < MinSecretLen {
			v.Errorf(p+"."+clearName, "the %s is %d bytes; use at least %d random bytes (e.g. openssl rand -hex 24)", what, len(*clear), MinSecretLen)
			return sum, false
		}
		return sha256.Sum256([]byte(*clear)), true
	}
	b, err := hex.DecodeString(hexSum)
	if err != nil || len(b) != sha256.Size {
		v.Errorf(p+".sha256", "expected 64 hex digits, the SHA-256 of the %s (printf %%s %s | sha256sum)", what, upper)
		return sum, false
	}
	copy(sum[:], b)
	return sum, true
}
