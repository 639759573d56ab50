package all_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/filters/apikey"
	"github.com/wasmgate/wasmgate/filters/basicauth"
	"github.com/wasmgate/wasmgate/filters/jwt"
	"github.com/wasmgate/wasmgate/filters/mtls"
)

func TestUnknownTopLevelFieldListsSections(t *testing.T) {
	got := parseErrs(t, `
bogus: 1
listeners: [{address: ":8080"}]
`)
	wantErrs(t, got,
		`gw.yaml:1:1: bogus: unknown field "bogus"; valid fields: admin, consumers, filter_chains, listeners, observability, plugins, portal, routes, server, stores, upstreams, versioning`)
}

// Errors never show a value that came from the environment, in any form a
// section's check prints it.
func TestSectionErrorsNeverShowEnvValues(t *testing.T) {
	const pw = "pa55-Word-LEAK"
	for name, tt := range map[string]struct {
		src string
		env []string
	}{
		"redis URL as address": {`
listeners: [{address: ":8080"}]
stores: {redis: {address: "${REDIS_URL}"}}
`, []string{"REDIS_URL", "redis://user:" + pw + "@cache:6379/0"}},
		"otlp endpoint": {`
listeners: [{address: ":8080"}]
observability: {tracing: {otlp_endpoint: "${OTLP}"}}
`, []string{"OTLP", "ftp://" + pw + "@collector"}},
	} {
		t.Run(name, func(t *testing.T) {
			got := strings.Join(parseErrs(t, tt.src, tt.env...), "\n")
			if strings.Contains(got, pw) || strings.Contains(got, "LEAK") {
				t.Errorf("an error shows the value from the environment:\n%s", got)
			}
			if !strings.Contains(got, "${") {
				t.Errorf("the error does not name the reference instead:\n%s", got)
			}
		})
	}
}

// Scrub also covers errors made after loading (a filter's, a store's).
func TestScrubLaterErrors(t *testing.T) {
	const pw = "hunter2-LEAK"
	c := mustParse(t, minimal+`
stores: {redis: {address: "127.0.0.1:6379", password: "${PW}"}}
`, "PW", pw)
	for _, err := range []error{
		c.Resolve("stores.redis", fmt.Errorf("AUTH %s refused", pw)),
		c.Scrub(fmt.Errorf("dial: %q", pw)),
		c.Scrub(errors.Join(errors.New("x"), errors.New(pw))),
	} {
		if strings.Contains(err.Error(), pw) {
			t.Errorf("scrubbed error still shows the value: %v", err)
		}
	}
	if got := c.Resolve("stores.redis", errors.New("boom")); len(got) != 1 || got[0].Line != 10 {
		t.Errorf("Resolve lost the position: %v", got)
	}
}

func TestConsumersLoadHashesClearKeys(t *testing.T) {
	c := mustParse(t, `
listeners: [{address: ":8080"}]
consumers:
  - name: partner
    metadata: {tier: gold}
    api_keys: [{key: "${PARTNER_KEY}"}]
    basic_auth: [{username: ops, bcrypt: "$$2a$$04$$0aUs/8oZ1HyeGwgiFtR.dOGuDbYGDjjP6a1dWXl.5DJoeBc8jbGBu"}]
    jwt: [{issuer: "https://auth", subject: svc-1}]
    mtls: [{san: partner.internal}]
`, "PARTNER_KEY", "partner-key-0123456789")
	k := apikey.KeysOf(&c.Consumers[0])[0]
	if k.Key != "" {
		t.Error("the clear key is still in the loaded config")
	}
	if k.Hash != sha256.Sum256([]byte("partner-key-0123456789")) {
		t.Error("the key was not hashed")
	}
	cc := &c.Consumers[0]
	if u := basicauth.UsersOf(cc); len(u) != 1 || u[0].Username != "ops" {
		t.Errorf("basic_auth = %+v", u)
	}
	if ids := jwt.IdentitiesOf(cc); len(ids) != 1 || ids[0] != (jwt.Identity{Issuer: "https://auth", Subject: "svc-1"}) {
		t.Errorf("jwt = %+v", ids)
	}
	if ids := mtls.IdentitiesOf(cc); len(ids) != 1 || ids[0].SAN != "partner.internal" {
		t.Errorf("mtls = %+v", ids)
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
`)
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

// A credential two consumers share would make the identity a request gets
// depend on config order; each owner refuses it.
func TestConsumersSharedCredentials(t *testing.T) {
	sum := sha256.Sum256([]byte("partner-key-0123456789"))
	errs := parseErrs(t, `
listeners: [{address: ":8080"}]
consumers:
  - name: a
    api_keys: [{key: partner-key-0123456789}]
    basic_auth: [{username: ops, bcrypt: "$$2a$$04$$0aUs/8oZ1HyeGwgiFtR.dOGuDbYGDjjP6a1dWXl.5DJoeBc8jbGBu"}]
    jwt: [{issuer: "https://auth", subject: svc-1}]
    mtls: [{san: partner.internal}]
  - name: b
    api_keys: [{sha256: `+hex.EncodeToString(sum[:])+`}]
    basic_auth: [{username: ops, bcrypt: "$$2a$$04$$0aUs/8oZ1HyeGwgiFtR.dOGuDbYGDjjP6a1dWXl.5DJoeBc8jbGBu"}]
    jwt: [{issuer: "https://auth", subject: svc-1}]
    mtls: [{san: partner.internal}]
`)
	wantErrs(t, errs,
		`gw.yaml:9:16: consumers[1].api_keys[0]: this key is already a key of consumer "a"; a key identifies exactly one consumer`,
		`gw.yaml:10:19: consumers[1].basic_auth[0].username: username "ops" is already used by consumer "a"`,
		`gw.yaml:11:11: consumers[1].jwt[0]: issuer "https://auth" and subject "svc-1" already map to consumer "a"`,
		`gw.yaml:12:12: consumers[1].mtls[0]: this certificate identity already maps to consumer "a"`,
	)
}
