package config

import (
	"fmt"
	"net"
	"strings"
)

// AdminAuth requires "Authorization: Bearer <token>" on every admin
// endpoint except /healthz and /readyz, which probes call without one.
type AdminAuth struct {
	Tokens []AdminToken `yaml:"tokens"` // at least one
}

// AdminToken is one bearer token of the admin API, given like an API key:
// as its hex SHA-256, or in clear from ${ENV} ("token: ${ADMIN_TOKEN}").
// Loading hashes a clear token into Hash and forgets it.
type AdminToken struct {
	// Name is how logs name whoever used the token (default "tokens[i]").
	Name   string `yaml:"name"`
	SHA256 string `yaml:"sha256" redact:"secret"` // 64 hex digits
	Token  string `yaml:"token" redact:"secret"`  // cleared at load, after hashing
	// Access is admin (default: everything) or read (GET of status,
	// config, routes, upstreams and metrics; no reload, no profiles).
	Access string `yaml:"access"`

	Hash [32]byte `yaml:"-"`
}

// AdminTLS serves the admin API over TLS. The files are read at start and
// again on every reload, so a renewed certificate is picked up by a reload.
type AdminTLS struct {
	Cert string `yaml:"cert" path:"file"` // PEM certificate chain
	Key  string `yaml:"key" path:"file"`  // its PEM private key
	// ClientCA is a PEM bundle; with it, every admin client must present
	// a certificate it verifies (probes included), which also counts as
	// authentication for a listener beyond loopback.
	ClientCA string `yaml:"client_ca" path:"file"`
}

// Admin token access levels.
const (
	AdminAccessAdmin = "admin"
	AdminAccessRead  = "read"
)

// adminAccess checks admin.auth, admin.hosts and admin.tls, and hashes clear
// tokens so that no loaded Config holds one.
func (v *Validator) adminAccess() {
	a := &v.c.Admin
	if a.Auth != nil {
		if len(a.Auth.Tokens) == 0 {
			v.Errorf("admin.auth.tokens", `at least one token is required, e.g. tokens: [{ token: "${ADMIN_TOKEN}" }], or remove admin.auth`)
		}
		seen := map[[32]byte]int{}
		names := map[string]int{}
		for i := range a.Auth.Tokens {
			t := &a.Auth.Tokens[i]
			p := JoinIndex("admin.auth.tokens", i)
			if t.Name == "" {
				t.Name = fmt.Sprintf("tokens[%d]", i)
			} else if !validName.MatchString(t.Name) {
				v.Name(p+".name", "token", t.Name)
			} else if j, dup := names[t.Name]; dup {
				v.Errorf(p+".name", "name %q is already used by tokens[%d]; names must be unique", t.Name, j)
			} else {
				names[t.Name] = i
			}
			if t.Access == "" {
				t.Access = AdminAccessAdmin
			}
			v.OneOf(p+".access", t.Access, adminAccesses...)
			if !v.adminToken(p, t) {
				continue
			}
			if j, dup := seen[t.Hash]; dup {
				v.Errorf(p, "this token is already tokens[%d]; each token must be different", j)
			}
			seen[t.Hash] = i
		}
	}
	for i, h := range a.Hosts {
		p := JoinIndex("admin.hosts", i)
		name := strings.TrimSuffix(h, ".")
		switch {
		case net.ParseIP(strings.Trim(name, "[]")) != nil:
			v.Errorf(p, "%q is an IP address; IP addresses and localhost are always accepted, list only DNS names", h)
		case !isHostname(name):
			v.Errorf(p, "%q is not a host name; give a DNS name without scheme or port, e.g. gateway-admin.internal", h)
		}
	}
	if t := a.TLS; t != nil {
		if t.Cert == "" {
			v.Errorf("admin.tls.cert", "required: the path of a PEM certificate chain")
		}
		if t.Key == "" {
			v.Errorf("admin.tls.key", "required: the path of the certificate's PEM private key")
		}
	}
}

// MinSecretLen is the shortest clear bearer secret accepted (an admin
// token here, an API key in filters/apikey): shorter ones can be guessed
// online, and their SHA-256 reversed by brute force offline.
const MinSecretLen = 16

// adminToken fills t.Hash from whichever form was given and clears the clear token.
func (v *Validator) adminToken(p string, t *AdminToken) bool {
	var ok bool
	t.Hash, ok = v.SecretHash(p, "token", "token", "ADMIN_TOKEN", &t.Token, t.SHA256)
	return ok
}

// isHostname reports whether s is a DNS name of letters, digits, '-' and
// '_' in dot-separated labels.
func isHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// AdminAuthenticated reports whether the admin API asks clients to prove
// who they are: bearer tokens, or client certificates.
func (a *Admin) AdminAuthenticated() bool {
	return (a.Auth != nil && len(a.Auth.Tokens) > 0) || (a.TLS != nil && a.TLS.ClientCA != "")
}

// AdminExposure is the error, placed at admin.address, of an admin API that
// listens beyond loopback without authentication: anyone who reaches the
// port could read the config and reload it. Serving refuses such a config,
// and validate warns about it; admin.allow_unauthenticated: true says it is
// meant (a private network, a sidecar behind its own access control).
// bound is the address the admin listener already has ("" before it
// opens), which a reload cannot move.
func (c *Config) AdminExposure(bound string) *Error {
	a := &c.Admin
	addr, where := a.Address, ""
	if bound != "" {
		addr, where = bound, " (where the running admin API listens; a reload does not move it)"
	}
	if a.Address == "off" || a.AllowUnauthenticated || a.AdminAuthenticated() || LoopbackAddress(addr) {
		return nil
	}
	return c.Errorf("admin.address", "%q%s listens beyond loopback and the admin API has no authentication, "+
		"so anyone who reaches it can read the config and reload it; set admin.auth.tokens (or admin.tls.client_ca), "+
		`bind it to 127.0.0.1, or set admin.allow_unauthenticated: true if that is intended`, addr, where)
}

// LoopbackAddress reports whether host:port binds only loopback: localhost
// or a loopback IP. An empty host, an unspecified IP (0.0.0.0, ::) and any
// other name listen beyond this machine, or may.
func LoopbackAddress(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
