package config

import (
	"crypto/sha256"
	"slices"
	"testing"
)

func TestConsumersLoadHashesClearKeys(t *testing.T) {
	c, err := parse("gw.yaml", doc(`
listeners: [{address: ":8080"}]
consumers:
  - name: partner
    metadata: {tier: gold}
    api_keys: [{key: "${PARTNER_KEY}"}]
    basic_auth: [{username: ops, bcrypt: "$$2a$$04$$0aUs/8oZ1HyeGwgiFtR.dOGuDbYGDjjP6a1dWXl.5DJoeBc8jbGBu"}]
    jwt: [{issuer: "https://auth", subject: svc-1}]
    mtls: [{san: partner.internal}]
`), env("PARTNER_KEY", "partner-key-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	k := c.Consumers[0].APIKeys[0]
	if k.Key != "" {
		t.Error("the clear key is still in the loaded config")
	}
	if k.Hash != sha256.Sum256([]byte("partner-key-0123456789")) {
		t.Error("the key was not hashed")
	}
}

func TestConsumersValidation(t *testing.T) {
	errs := parseErrs(t, `
listeners: [{address: ":8080"}]
consumers:
  - name: a
    api_keys: [{key: short}, {sha256: nothex}, {}]
    basic_auth: [{username: "x:y", bcrypt: plain}]
    jwt: [{}]
    mtls: [{subject: "CN=a", san: a.internal}]
  - name: a
  - name: "bad name"
`, env())
	want := []string{
		`gw.yaml:4:17: consumers[0].api_keys[0].key: the key is 5 bytes; use at least 16 random bytes (e.g. openssl rand -hex 24)`,
		`gw.yaml:4:31: consumers[0].api_keys[1].sha256: expected 64 hex digits, the SHA-256 of the key (printf %s KEY | sha256sum)`,
		`gw.yaml:4:48: consumers[0].api_keys[2]: give exactly one of sha256 (the key's hex SHA-256, e.g. from "printf %s KEY | sha256sum") or key (the key itself, from the environment: key: ${PARTNER_KEY})`,
		`gw.yaml:5:19: consumers[0].basic_auth[0].username: a username is required and cannot contain ':' (it separates user and password in basic auth)`,
		`gw.yaml:5:36: consumers[0].basic_auth[0].bcrypt: a bcrypt hash like "$2a$10$..." is required (htpasswd -nbB user password makes one): crypto/bcrypt: hashedSecret too short to be a bcrypted password`,
		`gw.yaml:6:11: consumers[0].jwt[0]: give an issuer, a subject or both: the token claims (iss, sub) that identify this consumer`,
		`gw.yaml:7:12: consumers[0].mtls[0]: give exactly one of subject (a distinguished name like "CN=billing,O=Example") or san (a DNS name, email, URI or IP of the certificate)`,
		`gw.yaml:8:5: consumers[1].name: consumer "a" is already defined at consumers[0]; names must be unique`,
		`gw.yaml:9:5: consumers[2].name: consumer name "bad name" is not valid; use letters, digits, '_', '.' and '-'`,
	}
	for _, w := range want {
		if !slices.Contains(errs, w) {
			t.Errorf("missing error:\n  %s\ngot:\n  %v", w, errs)
		}
	}
}
