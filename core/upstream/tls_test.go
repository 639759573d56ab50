package upstream

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/wasmgate/wasmgate/core/config"
)

func TestHTTPSUpstreamVerifiedWithCAAndH2(t *testing.T) {
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Proto", r.Proto)
		w.Header().Set("X-SNI", r.TLS.ServerName)
	}))
	s.EnableHTTP2 = true
	s.StartTLS()
	t.Cleanup(s.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	get := func(c *config.Upstream) (*http.Response, error) {
		u := newWith(t, c, options{})
		req, _ := http.NewRequest("GET", u.Targets()[0].URL.String()+"/", nil)
		return u.TransportFor(u.Targets()[0]).RoundTrip(req)
	}
	// Without the CA the certificate is refused.
	var unknownCA x509.UnknownAuthorityError
	if _, err := get(&config.Upstream{Targets: []config.Target{{URL: s.URL}}}); !errors.As(err, &unknownCA) {
		t.Fatalf("a certificate from an unknown CA: %v, want x509.UnknownAuthorityError", err)
	}
	resp, err := get(&config.Upstream{Targets: []config.Target{{URL: s.URL}}, Protocol: "auto",
		TLS: &config.UpstreamTLS{CA: ca, ServerName: "example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Proto") != "HTTP/2.0" || resp.Header.Get("X-SNI") != "example.com" {
		t.Errorf("proto %q SNI %q, want h2 (offered) and the configured server name", resp.Header.Get("X-Proto"), resp.Header.Get("X-SNI"))
	}
	if _, err := build("u", &config.Upstream{Targets: []config.Target{{URL: s.URL}}, TLS: &config.UpstreamTLS{CA: "/nonexistent"}}, options{manual: true}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing CA file: %v, want a not-exist error", err)
	}
}

// The native engine (protocol http1) verifies https targets the same way:
// the configured CA and server name (sent as SNI), and a client
// certificate when the upstream asks for one (mTLS).
func TestHTTPSUpstreamNativeEngineMTLS(t *testing.T) {
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Proto", r.Proto)
		w.Header().Set("X-SNI", r.TLS.ServerName)
		w.Header().Set("X-Client-Certs", strconv.Itoa(len(r.TLS.PeerCertificates)))
	}))
	s.StartTLS()
	t.Cleanup(s.Close)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	// The client presents the test server's own certificate (its key usage
	// is for servers, so the upstream asks for any certificate rather than
	// verifying it).
	certFile, keyFile := filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	key, err := x509.MarshalPKCS8PrivateKey(s.TLS.Certificates[0].PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600); err != nil {
		t.Fatal(err)
	}
	s.TLS.ClientAuth = tls.RequireAnyClientCert

	get := func(c *config.Upstream) (*http.Response, error) {
		u := newWith(t, c, options{})
		if _, _, _, ok := u.Targets()[0].PoolStats(); !ok {
			t.Fatal("protocol http1 does not use the native engine")
		}
		req, _ := http.NewRequest("GET", u.Targets()[0].URL.String()+"/", nil)
		return u.TransportFor(u.Targets()[0]).RoundTrip(req)
	}
	if _, err := get(&config.Upstream{Targets: []config.Target{{URL: s.URL}}, Protocol: "http1",
		TLS: &config.UpstreamTLS{CA: ca, ServerName: "example.com"}}); err == nil {
		t.Fatal("a TLS upstream requiring a client certificate accepted none")
	}
	resp, err := get(&config.Upstream{Targets: []config.Target{{URL: s.URL}}, Protocol: "http1",
		TLS: &config.UpstreamTLS{CA: ca, ServerName: "example.com", Cert: certFile, Key: keyFile}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Proto") != "HTTP/1.1" || resp.Header.Get("X-SNI") != "example.com" || resp.Header.Get("X-Client-Certs") != "1" {
		t.Errorf("proto %q SNI %q client certs %q, want HTTP/1.1, the configured server name, 1",
			resp.Header.Get("X-Proto"), resp.Header.Get("X-SNI"), resp.Header.Get("X-Client-Certs"))
	}
	if resp.TLS == nil {
		t.Error("resp.TLS not set")
	}
	// Without a server name configured, the target's host is verified and
	// sent; the test certificate is for example.com and 127.0.0.1.
	resp, err = get(&config.Upstream{Targets: []config.Target{{URL: s.URL}}, Protocol: "http1",
		TLS: &config.UpstreamTLS{CA: ca, Cert: certFile, Key: keyFile}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}
