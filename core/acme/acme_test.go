package acme

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/internal/pebbletest"
	"github.com/wasmgate/wasmgate/internal/testsync"
)

// rig is what a gateway does with a Manager, in process: a plain listener
// answering HTTP-01 and a TLS listener whose handshakes ask the block.
type rig struct {
	httpPort, tlsPort int
	m                 *Manager
	plan              *Plan
	pebble            *pebbletest.Pebble
	logs              *logBuffer
}

func newRig(t *testing.T, o pebbletest.Options) *rig {
	ports := pebbletest.FreePorts(t, "tcp", 2)
	r := &rig{httpPort: ports[0], tlsPort: ports[1], logs: &logBuffer{}}
	o.HTTPPort, o.TLSPort = r.httpPort, r.tlsPort
	r.pebble = pebbletest.Start(t, o)
	r.m = New(slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(r.m.Stop)

	hl, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(r.httpPort))
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !r.m.HandleHTTPChallenge(w, req) {
			http.NotFound(w, req)
		}
	})}
	go hs.Serve(hl)
	t.Cleanup(func() { hs.Close() })

	tl, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(r.tlsPort))
	if err != nil {
		t.Fatal(err)
	}
	ts := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") })}
	ts.TLSConfig = &tls.Config{
		NextProtos: []string{"http/1.1", "acme-tls/1"},
		GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if b := r.plan.Listener(1); b != nil {
				return b.GetCertificate(h)
			}
			return nil, errors.New("no block")
		},
	}
	go ts.ServeTLS(tl, "", "")
	t.Cleanup(func() { ts.Close() })
	return r
}

// apply parses a config whose listener 1 has the given tls.acme block, and
// prepares and commits it as a reload would.
func (r *rig) apply(t *testing.T, acmeBlock string) error {
	t.Helper()
	yaml := fmt.Sprintf(`
listeners:
  - address: "127.0.0.1:%d"
  - address: "127.0.0.1:%d"
    tls:
      acme: %s
`, r.httpPort, r.tlsPort, acmeBlock)
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	p, err := r.m.Prepare(cfg)
	if err != nil {
		return err
	}
	p.Commit()
	r.plan = p
	return nil
}

// serve dials the TLS listener with sni and verifies against pebble's root.
func (r *rig) serve(sni string) (*x509.Certificate, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", "127.0.0.1:"+strconv.Itoa(r.tlsPort),
		&tls.Config{ServerName: sni, RootCAs: r.pebble.Root(), NextProtos: []string{"http/1.1"}})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0], nil
}

func (r *rig) waitServed(t *testing.T, sni string, ok func(*x509.Certificate) bool) *x509.Certificate {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		leaf, err := r.serve(sni)
		if err == nil && ok(leaf) {
			return leaf
		}
		if time.Now().After(deadline) {
			t.Fatalf("no certificate for %s verifying against pebble's root: %v\nlogs:\n%s\npebble:\n%s", sni, err, r.logs.String(), r.pebble.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func block(t *testing.T, r *rig, extra string) string {
	return fmt.Sprintf(`{directory: %q, ca_root: %q, email: ops@example.com, store: {dir: %q}%s}`,
		r.pebble.Directory, r.pebble.CAFile, t.TempDir(), extra)
}

func anyCert(*x509.Certificate) bool { return true }

func TestObtainHTTP01(t *testing.T) {
	r := newRig(t, pebbletest.Options{})
	if err := r.apply(t, block(t, r, `, names: [api.example.test], challenges: [http-01]`)); err != nil {
		t.Fatal(err)
	}
	leaf := r.waitServed(t, "api.example.test", anyCert)
	if leaf.DNSNames[0] != "api.example.test" {
		t.Fatalf("served %v", leaf.DNSNames)
	}
	if !strings.Contains(r.pebble.Log(), "validate w/ HTTP:") || r.pebble.Issued() != 1 {
		t.Fatalf("want one certificate over http-01; pebble issued %d:\n%s", r.pebble.Issued(), r.pebble.Log())
	}
	certs := r.m.Certificates()
	if len(certs) != 1 || certs[0].NotAfter.IsZero() || !certs[0].Managed || certs[0].LastError != "" {
		t.Fatalf("Certificates() = %+v", certs)
	}
}

func TestObtainTLSALPN01(t *testing.T) {
	r := newRig(t, pebbletest.Options{})
	if err := r.apply(t, block(t, r, `, names: [alpn.example.test], challenges: [tls-alpn-01]`)); err != nil {
		t.Fatal(err)
	}
	r.waitServed(t, "alpn.example.test", anyCert)
	// Pebble logs HTTP validations only; with http-01 disabled and no
	// DNS-01 solver, the issuance itself shows tls-alpn-01 was answered.
	if strings.Contains(r.pebble.Log(), "validate w/ HTTP") || r.pebble.Issued() != 1 {
		t.Fatalf("want one certificate, no HTTP validation:\n%s", r.pebble.Log())
	}
}

// A reload that changes nothing keeps the block, and its certificate, as
// they are; one that changes the block loads the certificate from storage:
// neither orders again.
func TestReloadKeepsCertificate(t *testing.T) {
	r := newRig(t, pebbletest.Options{})
	dir := t.TempDir()
	b := func(email string) string {
		return fmt.Sprintf(`{directory: %q, ca_root: %q, email: %s, names: [keep.example.test], store: {dir: %q}}`, r.pebble.Directory, r.pebble.CAFile, email, dir)
	}
	if err := r.apply(t, b("a@example.com")); err != nil {
		t.Fatal(err)
	}
	first := r.waitServed(t, "keep.example.test", anyCert)
	p1 := r.plan.Listener(1)
	if err := r.apply(t, b("a@example.com")); err != nil {
		t.Fatal(err)
	}
	if r.plan.Listener(1) != p1 {
		t.Fatal("an unchanged block was rebuilt")
	}
	if err := r.apply(t, b("b@example.com")); err != nil {
		t.Fatal(err)
	}
	again, err := r.serve("keep.example.test")
	if err != nil || again.SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Fatalf("after a reload with a changed block: %v, serial %v want %v", err, again, first.SerialNumber)
	}
	if n := r.pebble.Issued(); n != 1 {
		t.Fatalf("pebble issued %d certificates, want 1", n)
	}
}

// Renewal: pebble issues 30-second certificates; with a renewal window of
// half the lifetime and a renewal check every second, a new serial is
// served before the first expires.
func TestRenewal(t *testing.T) {
	old := RenewCheckInterval
	RenewCheckInterval = time.Second
	t.Cleanup(func() { RenewCheckInterval = old })
	r := newRig(t, pebbletest.Options{Validity: 30 * time.Second})
	if err := r.apply(t, block(t, r, `, names: [renew.example.test], renewal_window_ratio: 0.5`)); err != nil {
		t.Fatal(err)
	}
	first := r.waitServed(t, "renew.example.test", anyCert)
	r.waitServed(t, "renew.example.test", func(c *x509.Certificate) bool { return c.SerialNumber.Cmp(first.SerialNumber) != 0 })
}

// On demand: a name in allow is obtained in the handshake; one the ask
// endpoint refuses is not, and no order reaches the CA.
func TestOnDemandPermits(t *testing.T) {
	r := newRig(t, pebbletest.Options{})
	asked := make(chan string, 10)
	ask := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		asked <- req.URL.Query().Get("domain")
		w.WriteHeader(http.StatusForbidden)
	})}
	al, _ := net.Listen("tcp", "127.0.0.1:0")
	go ask.Serve(al)
	t.Cleanup(func() { ask.Close() })
	od := fmt.Sprintf(`, names: [], on_demand: {allow: [ok.example.test], ask: "http://%s/check"}`, al.Addr())
	if err := r.apply(t, block(t, r, od)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.serve("evil.example.test"); err == nil {
		t.Fatal("a handshake for a refused name succeeded")
	}
	if got := <-asked; got != "evil.example.test" {
		t.Fatalf("ask got %q", got)
	}
	if n := r.pebble.Issued(); n != 0 {
		t.Fatalf("a refused name reached the CA: %d issued", n)
	}
	r.waitServed(t, "ok.example.test", anyCert)
	if n := r.pebble.Issued(); n != 1 {
		t.Fatalf("pebble issued %d, want 1 (ok.example.test)", n)
	}
}

// With encryption_key, nothing stored is readable as PEM, and the
// certificate survives a new Manager reading the same store.
func TestEncryptedStore(t *testing.T) {
	r := newRig(t, pebbletest.Options{})
	dir := t.TempDir()
	key := "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // base64 of 32 bytes
	b := fmt.Sprintf(`{directory: %q, ca_root: %q, names: [sealed.example.test], store: {dir: %q}, encryption_key: %q}`, r.pebble.Directory, r.pebble.CAFile, dir, key)
	if err := r.apply(t, b); err != nil {
		t.Fatal(err)
	}
	r.waitServed(t, "sealed.example.test", anyCert)
	var files int
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".lock") {
			return nil
		}
		data, _ := os.ReadFile(path)
		if bytes.Contains(data, []byte("-----BEGIN")) || bytes.Contains(data, []byte(`"sans"`)) {
			t.Errorf("%s is stored in the clear", path)
		}
		files++
		return nil
	})
	if files == 0 {
		t.Fatal("nothing stored")
	}
	// A new process (Manager) with the same key serves the stored
	// certificate without a new order.
	r.m.Stop()
	r.m = New(slog.New(slog.DiscardHandler))
	t.Cleanup(r.m.Stop)
	if err := r.apply(t, b); err != nil {
		t.Fatal(err)
	}
	r.waitServed(t, "sealed.example.test", anyCert)
	if n := r.pebble.Issued(); n != 1 {
		t.Fatalf("pebble issued %d, want 1", n)
	}
}

// A stapling failure (pebble has no OCSP responder, so certificates name
// none) never stops a certificate being served.
func TestOCSPStaplingFailureStillServes(t *testing.T) {
	r := newRig(t, pebbletest.Options{})
	if err := r.apply(t, block(t, r, `, names: [ocsp.example.test], ocsp_stapling: true`)); err != nil {
		t.Fatal(err)
	}
	c, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(r.tlsPort), &tls.Config{ServerName: "ocsp.example.test", RootCAs: r.pebble.Root()})
	for deadline := time.Now().Add(60 * time.Second); err != nil && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		c, err = tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(r.tlsPort), &tls.Config{ServerName: "ocsp.example.test", RootCAs: r.pebble.Root()})
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if st := c.ConnectionState(); len(st.OCSPResponse) != 0 {
		t.Fatalf("a staple without a responder: %d bytes", len(st.OCSPResponse))
	}
}

// logBuffer collects what runs beside the test writes (testsync.Buffer).
type logBuffer = testsync.Buffer
