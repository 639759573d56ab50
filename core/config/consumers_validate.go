package config

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// minAPIKeyLen is the shortest clear API key accepted: shorter keys can be
// guessed online, and their SHA-256 reversed by brute force offline.
const minAPIKeyLen = 16

// consumers checks the consumers section and hashes clear API keys, so that
// no loaded Config holds one. Names, API keys, usernames and identity
// mappings must each be unique: two consumers sharing a credential would
// make the identity a request gets depend on config order.
func (v *Validator) consumers() {
	names := map[string]int{}
	keys := map[[32]byte]string{}
	users := map[string]string{}
	jwts := map[JWTIdentity]string{}
	certs := map[MTLSIdentity]string{}
	for i := range v.c.Consumers {
		c := &v.c.Consumers[i]
		p := JoinIndex("consumers", i)
		switch {
		case c.Name == "":
			v.Errorf(p+".name", "a consumer needs a name (letters, digits, '_', '.' and '-')")
		case !validName.MatchString(c.Name):
			v.Name(p+".name", "consumer", c.Name)
		default:
			if j, dup := names[c.Name]; dup {
				v.Errorf(p+".name", "consumer %q is already defined at consumers[%d]; names must be unique", c.Name, j)
			}
			names[c.Name] = i
		}
		for j := range c.APIKeys {
			k := &c.APIKeys[j]
			kp := JoinIndex(p+".api_keys", j)
			if !v.apiKey(kp, k) {
				continue
			}
			if other, dup := keys[k.Hash]; dup {
				v.Errorf(kp, "this key is already a key of consumer %q; a key identifies exactly one consumer", other)
			}
			keys[k.Hash] = c.Name
		}
		for j, u := range c.BasicAuth {
			up := JoinIndex(p+".basic_auth", j)
			switch {
			case u.Username == "" || strings.ContainsAny(u.Username, ":\r\n"):
				v.Errorf(up+".username", "a username is required and cannot contain ':' (it separates user and password in basic auth)")
			default:
				if other, dup := users[u.Username]; dup {
					v.Errorf(up+".username", "username %q is already used by consumer %q", u.Username, other)
				}
				users[u.Username] = c.Name
			}
			if _, err := bcrypt.Cost([]byte(u.Bcrypt)); err != nil {
				v.Errorf(up+".bcrypt", `a bcrypt hash like "$2a$10$..." is required (htpasswd -nbB user password makes one): %v`, err)
			}
		}
		for j, id := range c.JWT {
			jp := JoinIndex(p+".jwt", j)
			if id.Issuer == "" && id.Subject == "" {
				v.Errorf(jp, "give an issuer, a subject or both: the token claims (iss, sub) that identify this consumer")
				continue
			}
			if other, dup := jwts[id]; dup {
				v.Errorf(jp, "issuer %q and subject %q already map to consumer %q", id.Issuer, id.Subject, other)
			}
			jwts[id] = c.Name
		}
		for j, id := range c.MTLS {
			mp := JoinIndex(p+".mtls", j)
			if (id.Subject == "") == (id.SAN == "") {
				v.Errorf(mp, `give exactly one of subject (a distinguished name like "CN=billing,O=Example") or san (a DNS name, email, URI or IP of the certificate)`)
				continue
			}
			if other, dup := certs[id]; dup {
				v.Errorf(mp, "this certificate identity already maps to consumer %q", other)
			}
			certs[id] = c.Name
		}
	}
}

// apiKey fills k.Hash from whichever form was given and clears the clear key.
func (v *Validator) apiKey(p string, k *APIKey) bool {
	switch {
	case (k.SHA256 == "") == (k.Key == ""):
		v.Errorf(p, `give exactly one of sha256 (the key's hex SHA-256, e.g. from "printf %%s KEY | sha256sum") or key (the key itself, from the environment: key: ${PARTNER_KEY})`)
		k.Key = ""
		return false
	case k.Key != "":
		if len(k.Key) < minAPIKeyLen {
			v.Errorf(p+".key", "the key is %d bytes; use at least %d random bytes (e.g. openssl rand -hex 24)", len(k.Key), minAPIKeyLen)
			k.Key = ""
			return false
		}
		k.Hash = sha256.Sum256([]byte(k.Key))
		k.Key = ""
	default:
		b, err := hex.DecodeString(k.SHA256)
		if err != nil || len(b) != sha256.Size {
			v.Errorf(p+".sha256", "expected 64 hex digits, the SHA-256 of the key (printf %%s KEY | sha256sum)")
			return false
		}
		copy(k.Hash[:], b)
	}
	return true
}
