package jwt

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// minRSABits is the smallest RSA key accepted (RFC 7518 §3.3 requires 2048).
const minRSABits = 2048

// maxKeys bounds a key set: a token without a kid is tried against every
// compatible key, so the set must stay small.
const maxKeys = 64

// key is one verification key and what it may verify.
type key struct {
	kid string // "" matches any kid (PEM keys have none)
	alg string // the JWK's "alg", if it named one: only that algorithm
	pub any    // *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey or []byte (HMAC)
}

// keySet is an immutable set of keys; gen changes whenever the keys do,
// which invalidates tokens cached under an older set.
type keySet struct {
	gen    uint64
	digest [32]byte // of the source bytes, to notice a refresh that changed nothing
	byKid  map[string][]*key
	anyKid []*key // keys without a kid
	all    []*key
}

func newKeySet(keys []*key, digest [32]byte, gen uint64) *keySet {
	s := &keySet{gen: gen, digest: digest, byKid: map[string][]*key{}, all: keys}
	for _, k := range keys {
		if k.kid == "" {
			s.anyKid = append(s.anyKid, k)
		} else {
			s.byKid[k.kid] = append(s.byKid[k.kid], k)
		}
	}
	return s
}

// candidates returns the keys that may verify a token signed with alg under
// kid, and whether the kid is known at all.
func (s *keySet) candidates(kid, alg string) (out []*key, known bool) {
	pool := s.all
	if kid != "" {
		pool = s.byKid[kid]
		if len(pool) == 0 {
			pool = s.anyKid
		}
		if len(pool) == 0 {
			return nil, false
		}
	}
	for _, k := range pool {
		if compatible(k, alg) {
			out = append(out, k)
		}
	}
	return out, true
}

// compatible reports whether k may verify alg. This is what keeps an
// attacker from choosing an algorithm for a key: an RSA or EC public key is
// never an HMAC secret, and a curve fixes its ES algorithm.
func compatible(k *key, alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch p := k.pub.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		switch p.Curve {
		case elliptic.P256():
			return alg == "ES256"
		case elliptic.P384():
			return alg == "ES384"
		case elliptic.P521():
			return alg == "ES512"
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	case []byte:
		return strings.HasPrefix(alg, "HS")
	}
	return false
}

// parseKeys reads a JWKS document or PEM public keys and certificates.
// Keys that cannot be used (encryption keys, private or symmetric keys in a
// JWKS, weak RSA) are skipped and reported in skipped; no usable key at
// all is an error.
func parseKeys(data []byte) (keys []*key, skipped []string, err error) {
	trimmed := strings.TrimSpace(string(data))
	if strings.HasPrefix(trimmed, "{") {
		keys, skipped, err = parseJWKS(data)
	} else {
		keys, err = parsePEM(data)
	}
	if err != nil {
		return nil, skipped, err
	}
	if len(keys) == 0 {
		return nil, skipped, errors.New("no usable verification key")
	}
	if len(keys) > maxKeys {
		return nil, skipped, fmt.Errorf("%d keys; at most %d are accepted", len(keys), maxKeys)
	}
	return keys, skipped, nil
}

type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Crv string `json:"crv"`
	N   string `json:"n"`
	E   string `json:"e"`
	X   string `json:"x"`
	Y   string `json:"y"`
	D   string `json:"d"`
}

func parseJWKS(data []byte) ([]*key, []string, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("not a JWKS document: %v", err)
	}
	var keys []*key
	var skipped []string
	for i, raw := range doc.Keys {
		var j jwk
		if err := json.Unmarshal(raw, &j); err != nil {
			skipped = append(skipped, fmt.Sprintf("keys[%d]: %v", i, err))
			continue
		}
		k, err := j.key()
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("keys[%d] (kid %q): %v", i, j.Kid, err))
			continue
		}
		keys = append(keys, k)
	}
	return keys, skipped, nil
}

func (j *jwk) key() (*key, error) {
	if j.Use != "" && j.Use != "sig" {
		return nil, fmt.Errorf("use %q is not a signature key", j.Use)
	}
	if j.D != "" {
		return nil, errors.New("a private key does not belong in a JWKS served to verifiers")
	}
	if j.Alg == "none" || strings.HasPrefix(j.Alg, "HS") {
		return nil, fmt.Errorf("alg %q is not accepted from a key set", j.Alg)
	}
	k := &key{kid: j.Kid, alg: j.Alg}
	switch j.Kty {
	case "RSA":
		n, err1 := b64int(j.N)
		e, err2 := b64int(j.E)
		if err1 != nil || err2 != nil || !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
			return nil, errors.New("bad RSA modulus or exponent")
		}
		if n.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key of %d bits; at least %d are required", n.BitLen(), minRSABits)
		}
		k.pub = &rsa.PublicKey{N: n, E: int(e.Int64())}
	case "EC":
		var curve elliptic.Curve
		switch j.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, fmt.Errorf("curve %q is not supported (P-256, P-384, P-521)", j.Crv)
		}
		size := (curve.Params().BitSize + 7) / 8
		x, err1 := base64.RawURLEncoding.DecodeString(j.X)
		y, err2 := base64.RawURLEncoding.DecodeString(j.Y)
		if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
			return nil, errors.New("bad EC coordinates")
		}
		point := append(append([]byte{4}, x...), y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
		if err != nil {
			return nil, fmt.Errorf("bad EC point: %v", err)
		}
		k.pub = pub
	case "OKP":
		if j.Crv != "Ed25519" {
			return nil, fmt.Errorf("curve %q is not supported (Ed25519)", j.Crv)
		}
		x, err := base64.RawURLEncoding.DecodeString(j.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, errors.New("bad Ed25519 key")
		}
		k.pub = ed25519.PublicKey(x)
	case "oct":
		return nil, errors.New("symmetric keys are not accepted from a key set; use the filter's secret")
	default:
		return nil, fmt.Errorf("kty %q is not supported (RSA, EC, OKP)", j.Kty)
	}
	return k, nil
}

func b64int(s string) (*big.Int, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, errors.New("bad base64url integer")
	}
	return new(big.Int).SetBytes(b), nil
}

func parsePEM(data []byte) ([]*key, error) {
	var keys []*key
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		var pub any
		var err error
		switch block.Type {
		case "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				pub = cert.PublicKey
			}
		default:
			return nil, fmt.Errorf("PEM block %q is not a public key or certificate (private keys do not belong here)", block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("PEM block %q: %v", block.Type, err)
		}
		if r, ok := pub.(*rsa.PublicKey); ok && r.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key of %d bits; at least %d are required", r.N.BitLen(), minRSABits)
		}
		switch pub.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
			keys = append(keys, &key{pub: pub})
		default:
			return nil, fmt.Errorf("unsupported public key type %T", pub)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("neither a JWKS document nor PEM public keys")
	}
	return keys, nil
}

func digest(b []byte) [32]byte { return sha256.Sum256(b) }
