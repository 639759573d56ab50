package config

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func TestAdminTokensHashedAndDefaulted(t *testing.T) {
	sum := sha256.Sum256([]byte("given-as-a-hash-0123"))
	c := mustParse(t, `
listeners: [{address: ":8080"}]
admin:
  address: "0.0.0.0:9901"
  hosts: [Gateway-Admin.internal., admin_1.example]
  auth:
    tokens:
      - { token: "${ADMIN_TOKEN}" }
      - { name: scraper, sha256: "`+hex.EncodeToString(sum[:])+`", access: read }
`, env("ADMIN_TOKEN", "admin-token-0123456789"))
	toks := c.Admin.Auth.Tokens
	if toks[0].Token != "" || toks[0].Hash != sha256.Sum256([]byte("admin-token-0123456789")) {
		t.Errorf("clear token not hashed and forgotten: %+v", toks[0])
	}
	if toks[0].Name != "tokens[0]" || toks[0].Access != "admin" || toks[1].Access != "read" || toks[1].Hash != sum {
		t.Errorf("tokens: %+v", toks)
	}
	if e := c.AdminExposure(""); e != nil {
		t.Errorf("an admin API with tokens is not exposed, got %v", e)
	}
}

func TestAdminAccessValidation(t *testing.T) {
	errs := parseErrs(t, `
listeners: [{address: ":8080"}]
admin:
  hosts: ["10.0.0.1", "http://x:1", "[::1]"]
  auth:
    tokens:
      - { token: short }
      - { sha256: nothex }
      - {}
      - { name: "a b", token: "${T}", access: write }
      - { name: dup, token: "${T}" }
  tls: { client_ca: ca.pem }
`, env("T", "0123456789abcdef0123"))
	wantErrs(t, errs,
		`gw.yaml:3:11: admin.hosts[0]: "10.0.0.1" is an IP address; IP addresses and localhost are always accepted, list only DNS names`,
		`gw.yaml:3:23: admin.hosts[1]: "http://x:1" is not a host name; give a DNS name without scheme or port, e.g. gateway-admin.internal`,
		`gw.yaml:3:37: admin.hosts[2]: "[::1]" is an IP address; IP addresses and localhost are always accepted, list only DNS names`,
		`gw.yaml:6:11: admin.auth.tokens[0].token: the token is 5 bytes; use at least 16 random bytes (e.g. openssl rand -hex 24)`,
		`gw.yaml:7:11: admin.auth.tokens[1].sha256: expected 64 hex digits, the SHA-256 of the token (printf %s TOKEN | sha256sum)`,
		`gw.yaml:8:9: admin.auth.tokens[2]: give exactly one of sha256 (the token's hex SHA-256, e.g. from "printf %s TOKEN | sha256sum") or token (the token itself, from the environment: token: ${ADMIN_TOKEN})`,
		`gw.yaml:9:11: admin.auth.tokens[3].name: token name "a b" is not valid; use letters, digits, '_', '.' and '-'`,
		`gw.yaml:9:39: admin.auth.tokens[3].access: "write" is not valid; valid values: admin, read`,
		`gw.yaml:10:9: admin.auth.tokens[4]: this token is already tokens[3]; each token must be different`,
		`gw.yaml:11:3: admin.tls.cert: required: the path of a PEM certificate chain`,
		`gw.yaml:11:3: admin.tls.key: required: the path of the certificate's PEM private key`,
	)
	errs = parseErrs(t, `
listeners: [{address: ":8080"}]
admin: { auth: { tokens: [] } }
`, nil)
	if len(errs) != 1 || !strings.Contains(errs[0], "admin.auth.tokens: at least one token is required") {
		t.Errorf("empty tokens: %v", errs)
	}
}

func TestAdminExposure(t *testing.T) {
	for _, tt := range []struct {
		admin   string
		exposed bool
	}{
		{`{}`, false}, // the default, 127.0.0.1:9901
		{`{ address: "localhost:9901" }`, false},
		{`{ address: "[::1]:9901" }`, false},
		{`{ address: "127.0.0.2:0" }`, false},
		{`{ address: "off" }`, false},
		{`{ address: ":9901" }`, true},
		{`{ address: "0.0.0.0:9901" }`, true},
		{`{ address: "[::]:9901" }`, true},
		{`{ address: "10.1.2.3:9901" }`, true},
		{`{ address: "admin.internal:9901" }`, true},
		{`{ address: "0.0.0.0:9901", allow_unauthenticated: true }`, false},
		{`{ address: "0.0.0.0:9901", tls: { cert: c, key: k, client_ca: ca } }`, false},
		{`{ address: "0.0.0.0:9901", tls: { cert: c, key: k } }`, true}, // TLS alone proves nobody
	} {
		c := mustParse(t, "listeners: [{address: \":8080\"}]\nadmin: "+tt.admin+"\n", nil)
		e := c.AdminExposure("")
		if (e != nil) != tt.exposed {
			t.Errorf("admin: %s: exposure %v, want exposed=%v", tt.admin, e, tt.exposed)
			continue
		}
		if e != nil && (e.Line != 2 || e.Field != "admin.address" || !strings.Contains(e.Error(), "allow_unauthenticated")) {
			t.Errorf("admin: %s: %v, want an error at gw.yaml:2 admin.address naming the fix", tt.admin, e)
		}
	}
	// A reload that moves admin.address to loopback and drops the tokens
	// leaves the running listener where it was, exposed.
	c := mustParse(t, "listeners: [{address: \":8080\"}]\nadmin: { address: \"127.0.0.1:9901\" }\n", nil)
	if e := c.AdminExposure("0.0.0.0:9901"); e == nil || !strings.Contains(e.Error(), `"0.0.0.0:9901" (where the running admin API listens`) {
		t.Errorf("exposure judged by the config's address, not the bound one: %v", e)
	}
	if e := c.AdminExposure("127.0.0.1:9901"); e != nil {
		t.Errorf("bound to loopback: %v", e)
	}
}
