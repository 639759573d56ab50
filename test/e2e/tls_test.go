package e2e

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"
)

const tlsConfig = `
listeners:
  - address: "{{.listen}}"
    tls:
      certificates:
        - { cert: "{{.a_cert}}", key: "{{.a_key}}" }
        - { cert: "{{.b_cert}}", key: "{{.b_key}}" }
  - name: mtls
    address: "127.0.0.1:0"
    tls:
      certificates: [{ cert: "{{.a_cert}}", key: "{{.a_key}}" }]
      client_ca: "{{.client_ca}}"
admin: { address: "{{.admin}}" }
routes:
  - name: hello
    respond: { status: 200, body: "hello over tls" }
`

func TestTLS(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	a := newCert(t, dir, "a.test", nil, false, false)
	b := newCert(t, dir, "b.test", nil, false, false)
	clientCA := newCert(t, dir, "clients-ca", nil, true, false)
	client := newCert(t, dir, "client", clientCA, false, true)
	otherCA := newCert(t, dir, "other-ca", nil, true, false)
	stranger := newCert(t, dir, "stranger", otherCA, false, true)
	g := startGateway(t, tlsConfig, vars{
		"a_cert": a.CertFile, "a_key": a.KeyFile, "b_cert": b.CertFile, "b_key": b.KeyFile,
		"client_ca": clientCA.CertFile,
	})
	mtls := g.ListenerAddr("mtls")
	roots := certPool(a, b)

	for _, name := range []string{"a.test", "b.test"} {
		t.Run("SNI "+name, func(t *testing.T) {
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", g.Listen,
				&tls.Config{ServerName: name, RootCAs: roots})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			leaf := conn.ConnectionState().PeerCertificates[0]
			if !slices.Contains(leaf.DNSNames, name) {
				t.Errorf("served the certificate for %v, want %s", leaf.DNSNames, name)
			}
		})
	}

	t.Run("h2 over TLS", func(t *testing.T) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{ServerName: "b.test", RootCAs: roots}, ForceAttemptHTTP2: true}
		defer tr.CloseIdleConnections()
		resp, body := getWith(t, tr, "https://"+g.Listen+"/")
		if resp.StatusCode != http.StatusOK || string(body) != "hello over tls" {
			t.Errorf("got %d %q", resp.StatusCode, body)
		}
		if resp.ProtoMajor != 2 {
			t.Errorf("protocol %s, want HTTP/2 through ALPN", resp.Proto)
		}
	})

	mtlsCases := []struct {
		name  string
		certs []tls.Certificate
		ok    bool
	}{
		{"no client cert", nil, false},
		{"cert from another CA", []tls.Certificate{stranger.Pair()}, false},
		{"good client cert", []tls.Certificate{client.Pair()}, true},
	}
	for _, tt := range mtlsCases {
		t.Run("mTLS "+tt.name, func(t *testing.T) {
			tr := &http.Transport{TLSClientConfig: &tls.Config{ServerName: "a.test", RootCAs: roots, Certificates: tt.certs}}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			resp, err := c.Get("https://" + mtls + "/")
			if !tt.ok {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("got %s, want the handshake to fail", resp.Status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || string(body) != "hello over tls" {
				t.Errorf("got %d %q", resp.StatusCode, body)
			}
		})
	}
}

// getWith GETs url through a one-off client on tr.
func getWith(t *testing.T, tr http.RoundTripper, url string) (*http.Response, []byte) {
	t.Helper()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}
