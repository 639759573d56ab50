// Package pebbletest runs Debian's pebble ACME test server (and
// pebble-challtestsrv as its DNS, answering 127.0.0.1 for every name) for
// tests that obtain real certificates. Tests skip when pebble is not
// installed, except in CI (CI set), where they fail.
package pebbletest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/internal/testsync"
)

// Options place pebble's validation where the gateway listens.
type Options struct {
	HTTPPort int // where pebble sends HTTP-01 requests
	TLSPort  int // where pebble makes TLS-ALPN-01 handshakes
	// Validity of issued certificates (0: pebble's default, years).
	Validity time.Duration
}

// Pebble is a running pebble.
type Pebble struct {
	// Directory is the ACME directory URL.
	Directory string
	// CAFile is a PEM file with the CA of pebble's own HTTPS (for
	// tls.acme.ca_root).
	CAFile string
	dir    string
	dns    string
	// front is where clients reach pebble (back): a forwarder that Down
	// and Up turn off and on, so the CA is unreachable while it keeps its
	// accounts and root.
	front, back string
	fwd         *forwarder
	mgmt        string
	client      *http.Client
	cmd         *exec.Cmd
	log         *buffer
	t           testing.TB
}

// Available reports whether pebble is installed; Require skips or fails.
func Require(t testing.TB) {
	t.Helper()
	for _, bin := range []string{"pebble", "pebble-challtestsrv"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed (apt-get install pebble); CI must run the ACME tests", bin)
			}
			t.Skipf("%s is not installed (apt-get install pebble)", bin)
		}
	}
}

// Start runs pebble and its DNS until the test ends.
func Start(t testing.TB, o Options) *Pebble {
	t.Helper()
	Require(t)
	dir := t.TempDir()
	// Pebble's own ports, distinct from each other (the challenge ports of
	// o are the caller's). The last is the challenge DNS server's, which
	// serves on UDP and TCP alike: it must be free in both, and not one of
	// the TCP ports (a UDP port picked alone once came out equal to
	// Pebble's management port, which then failed to bind).
	ports := FreePorts(t, "tcp+udp", 5)
	dnsAddr := "127.0.0.1:" + strconv.Itoa(ports[4])
	dns := exec.Command("pebble-challtestsrv", "-dns01", dnsAddr, "-http01", "", "-https01", "", "-tlsalpn01", "",
		"-management", "127.0.0.1:"+strconv.Itoa(ports[0]), "-defaultIPv6", "")
	dnsLog := &buffer{}
	dns.Stdout, dns.Stderr = dnsLog, dnsLog
	if err := dns.Start(); err != nil {
		t.Fatalf("pebble-challtestsrv: %v", err)
	}
	t.Cleanup(func() { dns.Process.Kill(); dns.Wait() })

	caPEM, certPEM, keyPEM := selfCA(t)
	p := &Pebble{dir: dir, t: t, log: &buffer{}, CAFile: filepath.Join(dir, "pebble-ca.pem")}
	write(t, p.CAFile, caPEM)
	write(t, filepath.Join(dir, "cert.pem"), certPEM)
	write(t, filepath.Join(dir, "key.pem"), keyPEM)
	listen := "127.0.0.1:" + strconv.Itoa(ports[1])
	p.front = "127.0.0.1:" + strconv.Itoa(ports[2])
	p.mgmt = "127.0.0.1:" + strconv.Itoa(ports[3])
	conf := map[string]any{"pebble": map[string]any{
		"listenAddress": listen, "managementListenAddress": p.mgmt,
		"certificate": filepath.Join(dir, "cert.pem"), "privateKey": filepath.Join(dir, "key.pem"),
		"httpPort": o.HTTPPort, "tlsPort": o.TLSPort, "ocspResponderURL": "",
		"externalAccountBindingRequired": false,
		"certificateValidityPeriod":      uint64(o.Validity / time.Second),
	}}
	b, _ := json.Marshal(conf)
	write(t, filepath.Join(dir, "pebble.json"), b)
	p.Directory = "https://" + p.front + "/dir"
	p.back = listen
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	p.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	p.dns = dnsAddr
	p.Up()
	p.start()
	t.Cleanup(p.Stop)
	return p
}

// Down makes the CA unreachable (connections refused) until Up.
func (p *Pebble) Down() {
	if p.fwd != nil {
		p.fwd.close()
		p.fwd = nil
	}
}

// Up makes the CA reachable again, at the same address.
func (p *Pebble) Up() {
	p.t.Helper()
	if p.fwd != nil {
		return
	}
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; {
		if p.fwd, err = forward(p.front, p.back); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("pebbletest: cannot listen on %s again: %v", p.front, err)
	}
}

func (p *Pebble) start() {
	t := p.t
	cmd := exec.Command("pebble", "-config", filepath.Join(p.dir, "pebble.json"), "-dnsserver", p.dns)
	// No random sleeps before validation; validation real (not
	// PEBBLE_VA_ALWAYS_VALID); no nonces rejected at random.
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0")
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("pebble: %v", err)
	}
	p.cmd = cmd
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := p.client.Get(p.Directory)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble did not serve %s: %v\n%s", p.Directory, err, p.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop ends pebble.
func (p *Pebble) Stop() {
	p.Down()
	if p.cmd != nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		p.cmd = nil
	}
}

// Root is the PEM root the certificates pebble issues chain to.
func (p *Pebble) Root() *x509.CertPool {
	p.t.Helper()
	resp, err := p.client.Get("https://" + p.mgmt + "/roots/0")
	if err != nil {
		p.t.Fatalf("pebble root: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		p.t.Fatalf("pebble root: no PEM in %q", b)
	}
	return pool
}

// CertStatus is pebble's record of the certificate with serial (hex), from
// its management API: Status is "Valid" or "Revoked"; Reason is the RFC
// 5280 reason code of a revocation.
type CertStatus struct {
	Status string `json:"Status"`
	Serial string `json:"Serial"`
	Reason *int   `json:"Reason"`
}

// CertStatus asks pebble about the certificate with serial (hex).
func (p *Pebble) CertStatus(serial string) (CertStatus, error) {
	var st CertStatus
	resp, err := p.client.Get("https://" + p.mgmt + "/cert-status-by-serial/" + serial)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("pebble cert-status-by-serial/%s: %d %s", serial, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("pebble cert-status-by-serial/%s: %v in %s", serial, err, b)
	}
	return st, nil
}

// Issued is how many certificates pebble has issued (from its log).
func (p *Pebble) Issued() int { return strings.Count(p.log.String(), "Issued certificate serial") }

// Log is pebble's output so far.
func (p *Pebble) Log() string { return p.log.String() }

// FreePorts returns n distinct ports free on 127.0.0.1 now ("tcp", or
// "tcp+udp": free in both). Each is held until all are picked: ports
// taken one after the other, each closed at once, can come back equal (the
// kernel may hand a just-closed port out again), and two listeners on one
// port fail the config.
func FreePorts(t testing.TB, network string, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		port := l.Addr().(*net.TCPAddr).Port
		if network == "tcp+udp" {
			c, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
			if err != nil {
				continue // taken in UDP: this TCP port stays held, another is picked
			}
			defer c.Close()
		}
		ports = append(ports, port)
	}
	return ports
}

func write(t testing.TB, path string, b []byte) {
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// selfCA makes a CA and a certificate for pebble's HTTPS on 127.0.0.1.
func selfCA(t testing.TB) (caPEM, certPEM, keyPEM []byte) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pebbletest CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "pebble"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	caCert, _ := x509.ParseCertificate(caDER)
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

// buffer collects what runs beside the test writes (testsync.Buffer).
type buffer = testsync.Buffer

// forwarder relays TCP connections from a listener to pebble.
type forwarder struct {
	ln    net.Listener
	mu    sync.Mutex
	conns map[net.Conn]bool
}

func forward(front, back string) (*forwarder, error) {
	ln, err := net.Listen("tcp", front)
	if err != nil {
		return nil, err
	}
	f := &forwarder{ln: ln, conns: map[net.Conn]bool{}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go f.relay(c, back)
		}
	}()
	return f, nil
}

func (f *forwarder) relay(c net.Conn, back string) {
	b, err := net.Dial("tcp", back)
	if err != nil {
		c.Close()
		return
	}
	f.mu.Lock()
	if f.conns == nil {
		f.mu.Unlock()
		c.Close()
		b.Close()
		return
	}
	f.conns[c], f.conns[b] = true, true
	f.mu.Unlock()
	go func() { io.Copy(b, c); b.Close() }()
	io.Copy(c, b)
	c.Close()
}

// close stops listening and cuts every relayed connection.
func (f *forwarder) close() {
	f.ln.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		c.Close()
	}
	f.conns = nil
}
