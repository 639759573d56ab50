package upstream

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
