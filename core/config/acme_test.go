package config

import (
	"strings"
	"testing"
)

func TestACMEErrors(t *testing.T) {
	got := parseErrs(t, `
listeners:
  - address: "127.0.0.1:8443"
    tls:
      acme:
        directory: "ftp://ca"
        email: nobody
        eab: { mac_key: "" }
        names: [api.example.com, "10.0.0.1", API.example.com]
        challenges: [http-01, dns-01]
        renewal_window_ratio: 1.5
        on_demand: {}
        store: { type: redis, dir: /tmp/x }
        encryption_key: short
routes:
  - { name: r, respond: { status: 200 } }
`, env())
	want := []string{
		`gw.yaml:5:9: listeners[0].tls.acme.directory: "ftp://ca" is not an http(s) URL`,
		`gw.yaml:6:9: listeners[0].tls.acme.email: "nobody" is not an e-mail address`,
		`gw.yaml:7:9: listeners[0].tls.acme.eab.key_id: required`,
		`gw.yaml:7:16: listeners[0].tls.acme.eab.mac_key: required`,
		`gw.yaml:8:34: listeners[0].tls.acme.names[1]: "10.0.0.1" is an IP address`,
		`gw.yaml:8:46: listeners[0].tls.acme.names[2]: "API.example.com" is already listed at names[0]`,
		`gw.yaml:9:22: listeners[0].tls.acme.challenges[0]: http-01 is answered on a plain (non-TLS) listener and there is none`,
		`gw.yaml:9:31: listeners[0].tls.acme.challenges[1]: "dns-01" is not valid; valid values: http-01, tls-alpn-01`,
		`gw.yaml:10:9: listeners[0].tls.acme.renewal_window_ratio: 1.5 is not between 0 and 1`,
		`gw.yaml:11:9: listeners[0].tls.acme.on_demand: needs ask or allow`,
		`gw.yaml:12:31: listeners[0].tls.acme.store.dir: is for the file store`,
		`gw.yaml:13:9: listeners[0].tls.acme.encryption_key: is neither base64 nor hex of 32 bytes`,
	}
	if len(got) != len(want) {
		t.Errorf("%d errors, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	all := strings.Join(got, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("no error containing %q in:\n%s", w, all)
		}
	}
}

// With acme, certificates may be empty; the defaults pick the challenges
// the listeners can answer.
func TestACMEDefaults(t *testing.T) {
	c := mustParse(t, `
listeners:
  - address: ":8080"
  - address: ":8443"
    tls: { acme: { names: [api.example.com] } }
routes:
  - { name: r, respond: { status: 200 } }
`, env())
	a := c.Listeners[1].TLS.ACME
	if a.Directory != LetsEncrypt || a.Store.Type != "file" || a.RenewalWindowRatio < 0.33 || a.RenewalWindowRatio > 0.34 ||
		!*a.OCSPStapling || strings.Join(a.Challenges, ",") != "http-01,tls-alpn-01" {
		t.Fatalf("defaults: %+v", a)
	}
	c = mustParse(t, `
listeners:
  - address: ":8443"
    tls: { acme: { names: [api.example.com] } }
routes:
  - { name: r, respond: { status: 200 } }
`, env())
	if got := c.Listeners[0].TLS.ACME.Challenges; strings.Join(got, ",") != "tls-alpn-01" {
		t.Fatalf("challenges without a plain listener: %v", got)
	}
	for _, k := range []string{"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", strings.Repeat("ab", 32)} {
		if b, err := ACMEKey(k); err != nil || len(b) != 32 {
			t.Errorf("ACMEKey(%q) = %d bytes, %v", k, len(b), err)
		}
	}
}
