package server

import (
	"crypto/tls"
	"errors"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
)

// fakeManaged stands in for a tls.acme block: it manages names, serves
// its certificate for them, answers challenges, and "on demand" serves
// onDemand names only.
type fakeManaged struct {
	names    map[string]bool
	onDemand map[string]bool
	cert     *tls.Certificate
	alpn     *tls.Certificate
}

func (f *fakeManaged) Manages(name string) bool { return f.names[name] }

func (f *fakeManaged) GetCertificate(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
	switch {
	case len(h.SupportedProtos) == 1 && h.SupportedProtos[0] == acmeTLS1:
		return f.alpn, nil
	case f.names[h.ServerName], f.onDemand[h.ServerName]:
		return f.cert, nil
	}
	return nil, errors.New("no certificate")
}

// Static exact > managed > static wildcard > on demand; a TLS-ALPN-01
// hello goes to the ACME client even for a statically served name.
func TestSNIOrderWithACME(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	exactCert, exactKey := ca.writeServerCert(t, dir, "exact", "static.example.com")
	wildCert, wildKey := ca.writeServerCert(t, dir, "wild", "*.example.com")
	leaf := func(name string) *tls.Certificate {
		c, k := ca.issue(t, name, false, name)
		pair, err := tls.X509KeyPair(c, k)
		if err != nil {
			t.Fatal(err)
		}
		return &pair
	}
	managed := &fakeManaged{
		names:    map[string]bool{"static.example.com": true, "managed.example.com": true},
		onDemand: map[string]bool{"ondemand.example.org": true},
		cert:     leaf("managed"), alpn: leaf("alpn"),
	}
	conf, _, err := buildTLS("listeners[0]", &config.TLS{
		Certificates: []config.Certificate{{Cert: wildCert, Key: wildKey}, {Cert: exactCert, Key: exactKey}},
		ACME:         &config.ACME{},
	}, true, managed, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pick := func(name string, protos ...string) string {
		c, err := conf.GetCertificate(&tls.ClientHelloInfo{ServerName: name, SupportedProtos: protos})
		if err != nil {
			return "error"
		}
		switch c {
		case managed.cert:
			return "managed"
		case managed.alpn:
			return "challenge"
		}
		return c.Leaf.DNSNames[0]
	}
	for _, tt := range []struct{ name, protos, want string }{
		{"static.example.com", "", "static.example.com"}, // static exact beats managed
		{"managed.example.com", "", "managed"},           // managed beats the static wildcard
		{"other.example.com", "", "*.example.com"},       // static wildcard
		{"ondemand.example.org", "", "managed"},          // on demand, permitted
		{"refused.example.org", "", "*.example.com"},     // refused: the first static certificate
		{"static.example.com", acmeTLS1, "challenge"},    // TLS-ALPN-01
	} {
		var protos []string
		if tt.protos != "" {
			protos = []string{tt.protos}
		}
		if got := pick(tt.name, protos...); got != tt.want {
			t.Errorf("%s %v: got %s, want %s", tt.name, protos, got, tt.want)
		}
	}
	if !contains(conf.NextProtos, acmeTLS1) {
		t.Errorf("NextProtos %v lack %s: TLS-ALPN-01 handshakes would fail", conf.NextProtos, acmeTLS1)
	}
	// Without static certificates a refused name fails the handshake.
	conf, _, err = buildTLS("listeners[0]", &config.TLS{ACME: &config.ACME{}}, true, managed, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conf.GetCertificate(&tls.ClientHelloInfo{ServerName: "refused.example.org"}); err == nil {
		t.Error("a refused name got a certificate")
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
