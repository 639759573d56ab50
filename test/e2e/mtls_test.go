package e2e

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const mtlsConfig = `
listeners:
  - address: "{{.listen}}"
    tls:
      certificates: [{ cert: "{{.gw_cert}}", key: "{{.gw_key}}" }]
      client_ca: "{{.client_ca}}"
admin: { address: "{{.admin}}" }
observability: { metrics: { prometheus: true } }
consumers:
  - { name: billing, mtls: [{ subject: "CN=billing" }] }
upstreams:
  echo: { targets: [{ url: "{{.echo}}" }] }
  tls-up:
    targets: [{ url: "{{.tls_up}}" }]
    tls: { ca: "{{.up_ca}}", server_name: up.test }
  mtls-up:
    targets: [{ url: "{{.mtls_up}}" }]
    tls: { ca: "{{.up_ca}}", server_name: up.test, cert: "{{.gw_client_cert}}", key: "{{.gw_client_key}}" }
  mtls-up-nocert:
    targets: [{ url: "{{.mtls_up}}" }]
    tls: { ca: "{{.up_ca}}", server_name: up.test }
routes:
  - name: ident
    match: { prefix: /ident }
    filters: [{ mtls: {} }]
    upstream: echo
  - name: tls-up
    match: { prefix: /tls-up }
    upstream: tls-up
  - name: mtls-up
    match: { prefix: /mtls-up }
    upstream: mtls-up
  - name: mtls-up-nocert
    match: { prefix: /nocert }
    upstream: mtls-up-nocert
`

// tlsUpstream is an HTTPS upstream with a certificate for up.test that,
// when clientCA is set, requires and verifies a client certificate; it
// answers with the client certificate's subject and counts what it served.
type tlsUpstream struct {
	*httptest.Server
	hits atomic.Int64
}

func newTLSUpstream(t *testing.T, cert *testCert, clientCA *testCert) *tlsUpstream {
	t.Helper()
	u := &tlsUpstream{}
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		peer := "none"
		if len(r.TLS.VerifiedChains) > 0 {
			peer = r.TLS.VerifiedChains[0][0].Subject.String()
		}
		w.Header().Set("X-Peer", peer)
		_, _ = w.Write([]byte("over tls"))
	}))
	u.TLS = &tls.Config{Certificates: []tls.Certificate{cert.Pair()}}
	if clientCA != nil {
		u.TLS.ClientAuth = tls.RequireAndVerifyClientCert
		u.TLS.ClientCAs = certPool(clientCA)
	}
	u.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	u.StartTLS()
	t.Cleanup(u.Close)
	return u
}

// mTLS through the real binary: a verified client certificate mapped to a
// consumer reaches the upstream as that identity; an unmapped one gets 403
// and never reaches it; a client without a certificate fails the handshake
// with the certificate_required alert, one from another CA with unknown_ca. Upstream TLS is verified against
// the configured CA, and upstream mTLS presents the gateway's certificate.
func TestMTLS(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	gwCert := newCert(t, dir, "gw.test", nil, false, false)
	clientCA := newCert(t, dir, "clients-ca", nil, true, false)
	billing := newCert(t, dir, "billing", clientCA, false, true)
	unmapped := newCert(t, dir, "intruder", clientCA, false, true)
	upCA := newCert(t, dir, "up-ca", nil, true, false)
	upCert := newCert(t, dir, "up.test", upCA, false, false)
	gwClientCA := newCert(t, dir, "gw-clients-ca", nil, true, false)
	gwClient := newCert(t, dir, "gateway-client", gwClientCA, false, true)

	echo := newEcho(t, "echo")
	tlsUp := newTLSUpstream(t, upCert, nil)
	mtlsUp := newTLSUpstream(t, upCert, gwClientCA)
	g := startGateway(t, mtlsConfig, vars{
		"gw_cert": gwCert.CertFile, "gw_key": gwCert.KeyFile, "client_ca": clientCA.CertFile,
		"echo": echo.URL, "tls_up": tlsUp.URL, "mtls_up": mtlsUp.URL, "up_ca": upCA.CertFile,
		"gw_client_cert": gwClient.CertFile, "gw_client_key": gwClient.KeyFile,
	})
	client := func(certs ...*testCert) *http.Client {
		cfg := &tls.Config{ServerName: "gw.test", RootCAs: certPool(gwCert)}
		for _, c := range certs {
			cfg.Certificates = append(cfg.Certificates, c.Pair())
		}
		tr := &http.Transport{TLSClientConfig: cfg}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr, Timeout: 10 * time.Second}
	}
	get := func(c *http.Client, path string, hdr ...string) (*http.Response, []byte) {
		t.Helper()
		req := newRequest(t, http.MethodGet, "https://"+g.Listen+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Add(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("GET %s: reading body: %v", path, err)
		}
		return resp, b
	}

	billingClient := client(billing)
	resp, body := get(billingClient, "/ident/a", "X-Consumer-Name", "admin")
	s := decodeSeen(t, resp.StatusCode, body)
	if got := s.Header.Values("X-Consumer-Name"); len(got) != 1 || got[0] != "billing" {
		t.Errorf("upstream saw X-Consumer-Name %q, want only billing", got)
	}

	resp, body = get(client(unmapped), "/ident/b", "X-Consumer-Name", "billing")
	checkError(t, resp.StatusCode, resp.Header, body, http.StatusForbidden)
	if n := echo.hits.Load(); n != 1 {
		t.Errorf("the upstream received %d requests, want only the mapped client's 1", n)
	}

	// No certificate: in TLS 1.3 the client's handshake ends before the
	// server checks, so the refusal arrives as the server's alert on the
	// first read: certificate_required (116), not a reset or a timeout.
	// A certificate from a CA the listener does not trust: unknown_ca (48).
	otherCA := newCert(t, dir, "other-ca", nil, true, false)
	stranger := newCert(t, dir, "stranger", otherCA, false, true)
	for _, c := range []struct {
		name  string
		certs []*testCert
		alert string
	}{
		{"no client certificate", nil, "certificate required"},
		{"a certificate from another CA", []*testCert{stranger}, "unknown certificate authority"},
	} {
		cl := client()
		if len(c.certs) > 0 {
			// Go's client presents only a certificate of a CA the server
			// names as acceptable; this one must be presented anyway.
			pair := c.certs[0].Pair()
			cl.Transport.(*http.Transport).TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				return &pair, nil
			}
		}
		_, err := cl.Get("https://" + g.Listen + "/ident/c")
		var op *net.OpError
		if err == nil || !errors.As(err, &op) || op.Op != "remote error" || !strings.Contains(op.Err.Error(), c.alert) {
			t.Errorf("%s: %v, want the remote alert \"tls: %s\"", c.name, err, c.alert)
		}
	}
	if n := echo.hits.Load(); n != 1 {
		t.Errorf("the upstream received %d requests after the handshake failures, want 1", n)
	}
	if v, ok := g.Metric("wasmgate_auth_failures_total", "filter=mtls", "reason=unknown"); !ok || v != 1 {
		t.Errorf("wasmgate_auth_failures_total{filter=mtls,reason=unknown} = %v (%v), want 1", v, ok)
	}

	// Upstream TLS: the gateway verifies up.test against the CA.
	resp, body = get(billingClient, "/tls-up/x")
	if resp.StatusCode != 200 || string(body) != "over tls" || resp.Header.Get("X-Peer") != "none" {
		t.Errorf("upstream TLS: %d %q peer %q, want 200 \"over tls\" without a client certificate", resp.StatusCode, body, resp.Header.Get("X-Peer"))
	}
	// Upstream mTLS: the upstream verified the gateway's client certificate.
	resp, body = get(billingClient, "/mtls-up/x")
	if resp.StatusCode != 200 || resp.Header.Get("X-Peer") != "CN=gateway-client" {
		t.Errorf("upstream mTLS: %d %q peer %q, want 200 from CN=gateway-client", resp.StatusCode, body, resp.Header.Get("X-Peer"))
	}
	// Without the certificate the same upstream refuses the gateway: 502.
	resp, body = get(billingClient, "/nocert/x")
	checkError(t, resp.StatusCode, resp.Header, body, http.StatusBadGateway)
	if tlsUp.hits.Load() != 1 || mtlsUp.hits.Load() != 1 {
		t.Errorf("upstream hits: tls %d, mtls %d; want 1 each", tlsUp.hits.Load(), mtlsUp.hits.Load())
	}
}
