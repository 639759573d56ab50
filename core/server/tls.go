package server

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
)

// certIndex picks a certificate by SNI. It is built once per Apply, so the
// handshake costs at most two map lookups.
type certIndex struct {
	exact    map[string]*tls.Certificate // "api.example.com"
	wildcard map[string]*tls.Certificate // "example.com" for "*.example.com"
	first    *tls.Certificate            // no SNI, or a name no certificate covers
	managed  ManagedCerts                // tls.acme, or nil
}

// ManagedCerts are the certificates an ACME client obtains and renews for a
// listener (core/acme).
type ManagedCerts interface {
	// Manages reports whether name is one of the configured names.
	Manages(name string) bool
	// GetCertificate answers TLS-ALPN-01 challenges, serves managed
	// certificates and obtains on-demand ones where permitted; an error
	// when it has none for the hello.
	GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error)
}

// acmeTLS1 is the ALPN protocol of TLS-ALPN-01 challenges (RFC 8737).
const acmeTLS1 = "acme-tls/1"

// lookup prefers an exact name over a wildcard. A name nobody serves still
// gets the first certificate: the client then reports a name mismatch, which
// says more to its operator than a handshake failure would.
func (x *certIndex) lookup(serverName string) *tls.Certificate {
	name := strings.ToLower(strings.TrimSuffix(serverName, "."))
	if c := x.exact[name]; c != nil {
		return c
	}
	// A wildcard covers exactly one label (RFC 6125 6.4.3).
	if i := strings.IndexByte(name, '.'); i > 0 {
		if c := x.wildcard[name[i+1:]]; c != nil {
			return c
		}
	}
	return x.first
}

// pick chooses with ACME in the picture: a challenge goes to the ACME
// client; then a static exact name, a managed name, a static wildcard, and
// last an on-demand certificate (which the ACME client refuses unless
// on_demand permits the name); failing all, the first static certificate.
func (x *certIndex) pick(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if x.managed == nil {
		return x.lookup(hello.ServerName), nil
	}
	if len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acmeTLS1 {
		return x.managed.GetCertificate(hello)
	}
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if c := x.exact[name]; c != nil {
		return c, nil
	}
	if x.managed.Manages(name) {
		if c, err := x.managed.GetCertificate(hello); err == nil {
			return c, nil
		}
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		if c := x.wildcard[name[i+1:]]; c != nil {
			return c, nil
		}
	}
	c, err := x.managed.GetCertificate(hello)
	if err != nil && x.first != nil {
		return x.first, nil
	}
	return c, err
}

// add indexes c under its DNS SANs. On a name served by two certificates the
// earlier one wins, so the config's order decides, not map iteration.
func (x *certIndex) add(c *tls.Certificate) {
	if x.first == nil {
		x.first = c
	}
	for _, n := range c.Leaf.DNSNames {
		n = strings.ToLower(strings.TrimSuffix(n, "."))
		m, key := x.exact, n
		if rest, ok := strings.CutPrefix(n, "*."); ok {
			m, key = x.wildcard, rest
		}
		if _, taken := m[key]; !taken {
			m[key] = c
		}
	}
}

// buildTLS reads every file named in t and returns the tls.Config that
// handshakes on the listener use until the next Apply. Files are read on
// every call, so renewed certificates are picked up by a reload. Errors are
// FieldErrs with paths under prefix ("listeners[2]").
func buildTLS(prefix string, t *config.TLS, h2 bool, managed ManagedCerts, now time.Time) (*tls.Config, []string, error) {
	conf, _, warnings, err := buildTLSCerts(prefix, t, h2, managed, now)
	return conf, warnings, err
}

// buildTLSCerts is buildTLS that also returns the static certificates'
// leaves, for the admin API.
func buildTLSCerts(prefix string, t *config.TLS, h2 bool, managed ManagedCerts, now time.Time) (*tls.Config, []*x509.Certificate, []string, error) {
	var leaves []*x509.Certificate
	var errs []error
	var warnings []string
	fail := func(field, format string, args ...any) {
		errs = append(errs, config.FieldErr(prefix+".tls"+field, format, args...))
	}

	idx := &certIndex{exact: map[string]*tls.Certificate{}, wildcard: map[string]*tls.Certificate{}, managed: managed}
	if len(t.Certificates) == 0 && t.ACME == nil {
		fail(".certificates", "at least one certificate is required to terminate TLS")
	}
	for i, c := range t.Certificates {
		field := fmt.Sprintf(".certificates[%d]", i)
		cert, err := loadPair(c)
		if err != nil {
			var fe *pairErr
			if errors.As(err, &fe) {
				fail(field+"."+fe.field, "%v", fe.err)
			} else {
				fail(field, "%v", err)
			}
			continue
		}
		if now.After(cert.Leaf.NotAfter) {
			warnings = append(warnings, fmt.Sprintf("%s.tls%s.cert: %s expired on %s", prefix, field, c.Cert, cert.Leaf.NotAfter.Format(time.DateOnly)))
		}
		idx.add(cert)
		leaves = append(leaves, cert.Leaf)
	}

	cfg := &tls.Config{
		GetCertificate: idx.pick,
		NextProtos:     []string{"http/1.1"},
	}
	if h2 {
		cfg.NextProtos = []string{"h2", "http/1.1"}
	}
	if t.ACME != nil {
		// Offered only to make TLS-ALPN-01 handshakes possible; such a
		// connection is closed once the handshake is done (tlsaccept.go).
		cfg.NextProtos = append(cfg.NextProtos, acmeTLS1)
	}

	switch t.MinVersion {
	case "", "1.2":
		cfg.MinVersion = tls.VersionTLS12
	case "1.3":
		cfg.MinVersion = tls.VersionTLS13
	default:
		fail(".min_version", "%q is not a supported version: use \"1.2\" or \"1.3\"", t.MinVersion)
	}

	if t.ClientCA != "" {
		pemBytes, err := os.ReadFile(t.ClientCA)
		if err != nil {
			fail(".client_ca", "cannot load %s: %v", t.ClientCA, err)
		} else {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pemBytes) {
				fail(".client_ca", "%s holds no PEM certificate", t.ClientCA)
			}
			cfg.ClientCAs = pool
		}
	}
	switch t.ClientAuth {
	case "none":
		cfg.ClientAuth = tls.NoClientCert
	case "request":
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	case "require":
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	case "":
		if t.ClientCA != "" {
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
	default:
		fail(".client_auth", "%q is not valid: use none, request or require", t.ClientAuth)
	}
	if cfg.ClientAuth != tls.NoClientCert && t.ClientCA == "" {
		fail(".client_auth", "%q needs tls.client_ca to verify client certificates against", t.ClientAuth)
	}
	return cfg, leaves, warnings, errors.Join(errs...)
}

// pairErr says which of the two files of a Certificate is at fault.
type pairErr struct {
	field string // "cert" or "key"
	err   error
}

func (e *pairErr) Error() string { return e.field + ": " + e.err.Error() }

// loadPair parses the certificate before pairing it with the key, so that a
// bad file is blamed by name rather than with tls's generic "failed to find
// any PEM data".
func loadPair(c config.Certificate) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(c.Cert)
	if err != nil {
		return nil, &pairErr{"cert", fmt.Errorf("cannot load %s: %v", c.Cert, err)}
	}
	if err := checkCertPEM(certPEM); err != nil {
		return nil, &pairErr{"cert", fmt.Errorf("cannot load %s: %v", c.Cert, err)}
	}
	keyPEM, err := os.ReadFile(c.Key)
	if err != nil {
		return nil, &pairErr{"key", fmt.Errorf("cannot load %s: %v", c.Key, err)}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, &pairErr{"key", fmt.Errorf("cannot use %s as the key of %s: %v", c.Key, c.Cert, err)}
	}
	if cert.Leaf == nil { // only with GODEBUG=x509keypairleaf=0
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, &pairErr{"cert", fmt.Errorf("cannot load %s: %v", c.Cert, err)}
		}
	}
	return &cert, nil
}

// checkCertPEM verifies that the first CERTIFICATE block parses.
func checkCertPEM(data []byte) error {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return errors.New("no PEM CERTIFICATE block found")
		}
		if block.Type == "CERTIFICATE" {
			_, err := x509.ParseCertificate(block.Bytes)
			return err
		}
	}
}
