package config

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
)

// ACME is a listener's tls.acme block: certificates obtained and renewed
// from an RFC 8555 CA (core/acme, with certmagic), served beside the static
// ones in the SNI index.
type ACME struct {
	// Directory is the CA's ACME directory URL (default Let's Encrypt).
	Directory string `yaml:"directory"`
	// CARoot is a PEM bundle the CA's own HTTPS is verified against (a
	// private CA, pebble in tests); the system roots otherwise.
	CARoot string `yaml:"ca_root" path:"file"`
	Email  string `yaml:"email"` // the ACME account's contact
	// EAB binds the account to one at the CA (ZeroSSL, Google, private CAs).
	EAB *ACMEEAB `yaml:"eab"`
	// Names are the host names to obtain certificates for, at start.
	Names []string `yaml:"names"`
	// Challenges: http-01 (answered on the plain listeners, before routing)
	// and tls-alpn-01 (in this listener's handshake). Default: both where a
	// plain listener exists, else tls-alpn-01.
	Challenges []string `yaml:"challenges"`
	// RenewalWindowRatio is the part of a certificate's lifetime, at its
	// end, in which it is renewed (default 1/3).
	RenewalWindowRatio float64 `yaml:"renewal_window_ratio"`
	// OCSPStapling staples the CA's OCSP response to the handshake (default
	// true). A failure to get one never stops a certificate being served.
	OCSPStapling *bool         `yaml:"ocsp_stapling"`
	OnDemand     *ACMEOnDemand `yaml:"on_demand"`
	Store        ACMEStore     `yaml:"store"`
	// EncryptionKey (32 bytes, base64 or hex; from ${ENV}) encrypts what is
	// stored (keys, certificates, account) with AES-256-GCM.
	EncryptionKey string `yaml:"encryption_key" redact:"secret"`
}

// ACMEEAB is an External Account Binding (RFC 8555 7.3.4).
type ACMEEAB struct {
	KeyID  string `yaml:"key_id"`                  // the key identifier the CA gave
	MACKey string `yaml:"mac_key" redact:"secret"` // base64url, as the CA gives it
}

// ACMEOnDemand obtains a certificate during the first handshake for a name
// not listed in names, only when ask or allow permits that name: anyone can
// send any SNI, and every order costs the CA's rate limit.
type ACMEOnDemand struct {
	// Ask is a URL asked GET ?domain=NAME; a 200 permits the name.
	Ask   string   `yaml:"ask"`
	Allow []string `yaml:"allow"` // names permitted without asking
}

// ACMEStore is where certificates, keys, the account and locks live.
type ACMEStore struct {
	// Type: file (one instance, the default) or redis (stores.redis,
	// shared by every instance so a certificate is obtained once).
	Type string `yaml:"type"`
	// Dir is the file store's directory (default: certmagic's data dir,
	// $XDG_DATA_HOME/certmagic).
	Dir string `yaml:"dir" path:"file"`
}

// LetsEncrypt is the default ACME directory.
const LetsEncrypt = "https://acme-v02.api.letsencrypt.org/directory"

var (
	acmeChallenges = []string{"http-01", "tls-alpn-01"}
	acmeStores     = []string{"file", "redis"}
)

func (*ACMEStore) EnumFields() map[string][]string {
	return map[string][]string{"type": acmeStores}
}

func acmeDefaults(a *ACME, plainListener bool) {
	setString(&a.Directory, LetsEncrypt)
	setString(&a.Store.Type, "file")
	setBool(&a.OCSPStapling, true)
	if a.RenewalWindowRatio == 0 {
		a.RenewalWindowRatio = 1.0 / 3
	}
	if len(a.Challenges) == 0 {
		if plainListener {
			a.Challenges = []string{"http-01", "tls-alpn-01"}
		} else {
			a.Challenges = []string{"tls-alpn-01"}
		}
	}
}

// ACMEKey decodes an encryption_key: 32 bytes as base64 or hex.
func ACMEKey(s string) ([]byte, error) {
	if b, err := hex.DecodeString(s); err == nil && len(b) == 32 {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) == 32 {
				return b, nil
			}
			return nil, fmt.Errorf("decodes to %d bytes; AES-256 needs 32 (e.g. openssl rand -base64 32)", len(b))
		}
	}
	return nil, fmt.Errorf("is neither base64 nor hex of 32 bytes (e.g. openssl rand -base64 32)")
}

// acme checks a listener's tls.acme block at p.
func (v *Validator) acme(p string, a *ACME, plainListener bool) {
	if u, err := url.Parse(a.Directory); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		v.Errorf(p+".directory", "%q is not an http(s) URL; use the CA's ACME directory, e.g. %s", a.Directory, LetsEncrypt)
	}
	if a.Email != "" && !strings.Contains(a.Email, "@") {
		v.Errorf(p+".email", "%q is not an e-mail address", a.Email)
	}
	if e := a.EAB; e != nil {
		if e.KeyID == "" {
			v.Errorf(p+".eab.key_id", "required: the key ID the CA gave with the MAC key")
		}
		if _, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(e.MACKey, "=")); err != nil || e.MACKey == "" {
			v.Errorf(p+".eab.mac_key", "required: the base64url HMAC key the CA gave, e.g. mac_key: ${ACME_EAB_MAC_KEY}")
		}
	}
	if len(a.Names) == 0 && a.OnDemand == nil {
		v.Errorf(p+".names", "at least one name is required (or on_demand), e.g. names: [api.example.com]")
	}
	seen := map[string]int{}
	for i, n := range a.Names {
		f := JoinIndex(p+".names", i)
		if err := checkACMEName(n); err != nil {
			v.Errorf(f, "%q %v", n, err)
		}
		if j, dup := seen[strings.ToLower(n)]; dup {
			v.Errorf(f, "%q is already listed at names[%d]", n, j)
		}
		seen[strings.ToLower(n)] = i
	}
	for i, c := range a.Challenges {
		f := JoinIndex(p+".challenges", i)
		v.OneOf(f, c, acmeChallenges...)
		if c == "http-01" && !plainListener {
			v.Errorf(f, "http-01 is answered on a plain (non-TLS) listener and there is none; add one (the CA connects to port 80) or use tls-alpn-01")
		}
	}
	if r := a.RenewalWindowRatio; r <= 0 || r >= 1 {
		v.Errorf(p+".renewal_window_ratio", "%g is not between 0 and 1; it is the part of the lifetime, at its end, when renewal starts, e.g. 0.33", r)
	}
	if o := a.OnDemand; o != nil {
		if o.Ask == "" && len(o.Allow) == 0 {
			v.Errorf(p+".on_demand", "needs ask or allow: without them anyone could make the gateway order certificates for any name")
		}
		if o.Ask != "" {
			if u, err := url.Parse(o.Ask); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				v.Errorf(p+".on_demand.ask", "%q is not an http(s) URL, e.g. http://127.0.0.1:9000/allowed", o.Ask)
			}
		}
		for i, n := range o.Allow {
			if err := checkACMEName(n); err != nil {
				v.Errorf(JoinIndex(p+".on_demand.allow", i), "%q %v", n, err)
			}
		}
	}
	v.OneOf(p+".store.type", a.Store.Type, acmeStores...)
	if a.Store.Type == "redis" && a.Store.Dir != "" {
		v.Errorf(p+".store.dir", "is for the file store; remove it (the redis store uses stores.redis)")
	}
	if a.EncryptionKey != "" {
		if _, err := ACMEKey(a.EncryptionKey); err != nil {
			v.Errorf(p+".encryption_key", "%v", err)
		}
	}
}

// checkACMEName accepts a DNS name or a wildcard of one label; not an IP
// address (an ACME CA issues for names).
func checkACMEName(n string) error {
	name := strings.TrimPrefix(n, "*.")
	if name == "" || strings.ContainsAny(name, "*/: ") || !strings.Contains(name, ".") && name != "localhost" {
		return fmt.Errorf("is not a host name; use e.g. api.example.com or *.example.com")
	}
	if strings.Trim(name, "0123456789.") == "" {
		return fmt.Errorf("is an IP address; ACME certificates here are for host names")
	}
	return nil
}
