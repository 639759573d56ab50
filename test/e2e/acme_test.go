package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wasmgate/wasmgate/internal/pebbletest"
	"github.com/wasmgate/wasmgate/test/internal/gatewaytest"
)

// acmeConfig: a plain listener (where pebble sends HTTP-01 requests) and a
// TLS listener with tls.acme, both on the ports pebble validates against.
const acmeConfig = `
listeners:
  - address: "127.0.0.1:{{.http_port}}"
  - name: tls
    address: "127.0.0.1:{{.tls_port}}"
    tls:
      acme:
        directory: "{{.directory}}"
        ca_root: "{{.ca_root}}"
        email: ops@example.com
        names: [{{.names}}]
        challenges: [{{.challenges}}]
        store: {{.store}}
        {{.extra}}
admin: { address: "{{.admin}}" }
{{.stores}}
observability:
  metrics: { prometheus: true }
routes:
  - name: hello
    respond: { status: 200, body: "hello over acme" }
`

type acmeRig struct {
	pebble            *pebbletest.Pebble
	httpPort, tlsPort int
	v                 vars
}

func newACMERig(t *testing.T, o pebbletest.Options) *acmeRig {
	needBinary(t)
	ports := pebbletest.FreePorts(t, "tcp", 2)
	r := &acmeRig{httpPort: ports[0], tlsPort: ports[1]}
	o.HTTPPort, o.TLSPort = r.httpPort, r.tlsPort
	r.pebble = pebbletest.Start(t, o)
	r.v = vars{
		"http_port": strconv.Itoa(r.httpPort), "tls_port": strconv.Itoa(r.tlsPort),
		"directory": r.pebble.Directory, "ca_root": r.pebble.CAFile,
		"names": "www.example.test", "challenges": "http-01, tls-alpn-01",
		"store": fmt.Sprintf("{dir: %q}", t.TempDir()), "extra": "", "stores": "",
	}
	return r
}

// handshake dials addr with sni, verifying against roots.
func handshake(addr, sni string, roots *x509.CertPool) (*x509.Certificate, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{ServerName: sni, RootCAs: roots})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0], nil
}

// waitCert polls until addr serves sni a certificate that verifies against
// roots (and passes ok, if given).
func waitCert(t *testing.T, addr, sni string, roots *x509.CertPool, d time.Duration, ok func(*x509.Certificate) bool) *x509.Certificate {
	t.Helper()
	var leaf *x509.Certificate
	err := poll(d, func() error {
		var err error
		if leaf, err = handshake(addr, sni, roots); err != nil {
			return err
		}
		if ok != nil && !ok(leaf) {
			return fmt.Errorf("served serial %s, not yet the one wanted", leaf.SerialNumber.Text(16))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s did not serve %s a certificate from pebble: %v", addr, sni, err)
	}
	return leaf
}

type acmeStatus struct {
	Certificates []struct {
		Names     []string  `json:"names"`
		Issuer    string    `json:"issuer"`
		Serial    string    `json:"serial"`
		NotAfter  time.Time `json:"not_after"`
		Managed   bool      `json:"managed"`
		LastError string    `json:"last_error"`
	} `json:"certificates"`
}

// Issuance over HTTP-01 (answered by the plain listener before routing)
// and over TLS-ALPN-01 (in the TLS listener's handshake), through the
// binary; a request with the name then verifies against pebble's root and
// reaches the route; /status and /metrics show the certificate.
func TestACMEIssuance(t *testing.T) {
	for _, ch := range []string{"http-01", "tls-alpn-01"} {
		t.Run(ch, func(t *testing.T) {
			r := newACMERig(t, pebbletest.Options{})
			r.v["challenges"] = ch
			g := startGateway(t, acmeConfig, r.v)
			tlsAddr := g.ListenerAddr("tls")
			roots := r.pebble.Root()
			waitCert(t, tlsAddr, "www.example.test", roots, 60*time.Second, nil)
			if n := r.pebble.Issued(); n != 1 {
				t.Fatalf("pebble issued %d certificates, want 1", n)
			}
			httpValidated := strings.Contains(r.pebble.Log(), "validate w/ HTTP")
			if httpValidated != (ch == "http-01") {
				t.Fatalf("pebble validated over HTTP: %v, with challenges [%s]", httpValidated, ch)
			}

			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "www.example.test"}}}
			resp, err := client.Get("https://" + tlsAddr + "/")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != "hello over acme" {
				t.Fatalf("GET over TLS: %d %q", resp.StatusCode, body)
			}

			var st acmeStatus
			g.AdminJSON("/status", &st)
			if len(st.Certificates) != 1 || st.Certificates[0].Names[0] != "www.example.test" || !st.Certificates[0].Managed ||
				!strings.Contains(st.Certificates[0].Issuer, "Pebble") || time.Until(st.Certificates[0].NotAfter) < time.Hour {
				t.Fatalf("/status certificates: %+v", st.Certificates)
			}
			_, metrics := g.AdminDo(newRequest(t, http.MethodGet, g.AdminURL("/metrics"), nil))
			for _, want := range []string{`wasmgate_tls_certificate_expiry_seconds{name="www.example.test",source="acme"}`, "wasmgate_tls_renewal_failures_total 0"} {
				if !strings.Contains(string(metrics), want) {
					t.Errorf("/metrics lacks %s", want)
				}
			}
			// A plain request for a challenge token nobody asked for is
			// not answered as a challenge: it goes to routing.
			resp2, body2 := g.Get("/.well-known/acme-challenge/nothing")
			if resp2.StatusCode != 200 || string(body2) != "hello over acme" {
				t.Fatalf("unknown challenge path: %d %q", resp2.StatusCode, body2)
			}
		})
	}
}

// Renewal: pebble issues 40-second certificates, the renewal window is
// half of that and the cache checks every second: a new serial is served
// before the first certificate expires.
func TestACMERenewal(t *testing.T) {
	r := newACMERig(t, pebbletest.Options{Validity: 40 * time.Second})
	r.v["extra"] = "renewal_window_ratio: 0.5"
	g := startGateway(t, acmeConfig, r.v, startOptions{Env: []string{"WASMGATE_ACME_RENEW_CHECK=1s"}})
	tlsAddr := g.ListenerAddr("tls")
	roots := r.pebble.Root()
	first := waitCert(t, tlsAddr, "www.example.test", roots, 60*time.Second, nil)
	waitCert(t, tlsAddr, "www.example.test", roots, 60*time.Second, func(c *x509.Certificate) bool {
		return c.SerialNumber.Cmp(first.SerialNumber) != 0
	})
}

// Two gateway processes sharing a Redis store obtain the certificate once.
// The test holds certmagic's issue lock for the name in Redis while both
// start, so both are waiting on it together (and nothing is ordered while
// it is held); when it is released they race for it: one orders, the other
// finds the certificate in the store. Pebble sends its HTTP-01 requests to
// the first process only; if the second one orders, the first answers from
// the shared storage.
func TestACMESharedRedisOrdersOnce(t *testing.T) {
	r := newACMERig(t, pebbletest.Options{})
	addr := gatewaytest.StartRedis(t)
	prefix := "e2e-acme-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	lock := prefix + "acme-lock:issue_cert_www.example.test"
	if err := rdb.Set(t.Context(), lock, "held by the test", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	r.v["store"] = "{type: redis}"
	r.v["challenges"] = "http-01"
	r.v["stores"] = fmt.Sprintf("stores:\n  redis: { address: %q, key_prefix: %q }", addr, prefix)
	a := startGateway(t, acmeConfig, r.v)
	v2 := vars{}
	for k, v := range r.v {
		v2[k] = v
	}
	ports := pebbletest.FreePorts(t, "tcp", 2)
	v2["http_port"] = strconv.Itoa(ports[0])
	v2["tls_port"] = strconv.Itoa(ports[1])
	b := startGateway(t, acmeConfig, v2)
	roots := r.pebble.Root()
	// Both wait for the lock: no order, no certificate.
	if err := poll(30*time.Second, func() error {
		for _, g := range []*gateway{a, b} {
			if !strings.Contains(g.Stderr.String(), `"msg":"acquiring lock","component":"acme"`) {
				return fmt.Errorf("%s has not asked for the lock yet", g.Listen)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := handshake(a.ListenerAddr("tls"), "www.example.test", roots); err == nil {
		t.Fatal("a certificate was served while the issue lock was held")
	}
	if n := r.pebble.Issued(); n != 0 {
		t.Fatalf("pebble issued %d certificates while the lock was held", n)
	}
	if err := rdb.Del(t.Context(), lock).Err(); err != nil {
		t.Fatal(err)
	}
	ca := waitCert(t, a.ListenerAddr("tls"), "www.example.test", roots, 60*time.Second, nil)
	cb := waitCert(t, b.ListenerAddr("tls"), "www.example.test", roots, 60*time.Second, nil)
	if ca.SerialNumber.Cmp(cb.SerialNumber) != 0 {
		t.Fatalf("the two instances serve different certificates: %s and %s", ca.SerialNumber.Text(16), cb.SerialNumber.Text(16))
	}
	if n := r.pebble.Issued(); n != 1 {
		t.Fatalf("pebble issued %d certificates for two instances, want 1:\n%s", n, r.pebble.Log())
	}
}

// On demand: a name the ask endpoint refuses gets no certificate (the
// handshake fails) and no order reaches the CA; a name in allow is
// obtained during its first handshake.
func TestACMEOnDemandRefusal(t *testing.T) {
	r := newACMERig(t, pebbletest.Options{})
	ask := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusForbidden) })}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go ask.Serve(ln)
	t.Cleanup(func() { ask.Close() })
	r.v["names"] = ""
	r.v["extra"] = fmt.Sprintf(`on_demand: { ask: "http://%s/ok", allow: [granted.example.test] }`, ln.Addr())
	g := startGateway(t, acmeConfig, r.v)
	tlsAddr := g.ListenerAddr("tls")
	roots := r.pebble.Root()
	if _, err := handshake(tlsAddr, "refused.example.test", roots); err == nil {
		t.Fatal("a handshake for a refused name succeeded")
	}
	if n := r.pebble.Issued(); n != 0 {
		t.Fatalf("a refused name reached the CA: %d issued", n)
	}
	waitCert(t, tlsAddr, "granted.example.test", roots, 60*time.Second, nil)
	if n := r.pebble.Issued(); n != 1 {
		t.Fatalf("pebble issued %d, want 1 (granted.example.test only)", n)
	}
}

// CA down at start: a stored certificate is served; a name with none is
// retried, and obtained once the CA is back. A reload keeps the managed
// certificate (same serial, no new order).
func TestACMECADownAndReload(t *testing.T) {
	r := newACMERig(t, pebbletest.Options{})
	first := startGateway(t, acmeConfig, r.v)
	roots := r.pebble.Root()
	stored := waitCert(t, first.ListenerAddr("tls"), "www.example.test", roots, 60*time.Second, nil)
	first.Signal(syscall.SIGTERM)
	first.Wait(30 * time.Second)

	r.pebble.Down()
	r.v["names"] = "www.example.test, later.example.test"
	g := startGateway(t, acmeConfig, r.v)
	tlsAddr := g.ListenerAddr("tls")
	got := waitCert(t, tlsAddr, "www.example.test", roots, 30*time.Second, nil)
	if got.SerialNumber.Cmp(stored.SerialNumber) != 0 {
		t.Fatalf("served serial %s with the CA down, want the stored %s", got.SerialNumber.Text(16), stored.SerialNumber.Text(16))
	}
	if err := poll(30*time.Second, func() error {
		var st acmeStatus
		g.AdminJSON("/status", &st)
		for _, c := range st.Certificates {
			if c.Names[0] == "later.example.test" && c.LastError != "" {
				return nil
			}
		}
		return fmt.Errorf("no last_error for later.example.test in %+v", st.Certificates)
	}); err != nil {
		t.Fatal(err)
	}

	// The reload changes the routes only: the block, and its
	// certificate, stay as they are.
	g.WriteConfig(strings.Replace(acmeConfig, "hello over acme", "hello after reload", 1), nil)
	if code, body := g.Reload(); code != http.StatusOK {
		t.Fatalf("reload: %d %s", code, body)
	}
	if got, err := handshake(tlsAddr, "www.example.test", roots); err != nil || got.SerialNumber.Cmp(stored.SerialNumber) != 0 {
		t.Fatalf("after the reload: %v, %v", got, err)
	}

	// The CA comes back: certmagic's retry (a minute after the failure)
	// obtains the missing name.
	r.pebble.Up()
	defer func() {
		if t.Failed() {
			for _, line := range strings.Split(g.Stderr.String(), "\n") {
				if strings.Contains(line, "later") && !strings.Contains(line, "DEBUG") {
					t.Log(line)
				}
			}
		}
	}()
	waitCert(t, tlsAddr, "later.example.test", roots, 150*time.Second, nil)
}

// /status lists the certificates served from files too, each once, as not
// managed.
func TestStatusListsStaticCertificates(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	a := newCert(t, dir, "a.test", nil, false, false)
	b := newCert(t, dir, "b.test", nil, false, false)
	clientCA := newCert(t, dir, "clients-ca", nil, true, false)
	g := startGateway(t, tlsConfig, vars{"a_cert": a.CertFile, "a_key": a.KeyFile, "b_cert": b.CertFile, "b_key": b.KeyFile, "client_ca": clientCA.CertFile})
	var st acmeStatus
	g.AdminJSON("/status", &st)
	var names []string
	for _, c := range st.Certificates {
		if c.Managed || c.NotAfter.IsZero() {
			t.Errorf("static certificate shown as %+v", c)
		}
		names = append(names, strings.Join(c.Names, ","))
	}
	// a.test is served by two listeners: listed once.
	slices.Sort(names)
	if strings.Join(names, " ") != "a.test b.test" {
		t.Fatalf("/status certificates: %v, want a.test and b.test once each", names)
	}
}

type revokeAnswer struct {
	Name          string `json:"name"`
	RevokedSerial string `json:"revoked_serial"`
	NewSerial     string `json:"new_serial"`
	Error         string `json:"error"`
	Status        int    `json:"status"`
}

func revokeCert(t *testing.T, g *gateway, body string) (int, revokeAnswer, []byte) {
	t.Helper()
	req := newRequest(t, http.MethodPost, g.AdminURL("/certificates/revoke"), strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, out := g.AdminDo(req)
	var a revokeAnswer
	if err := json.Unmarshal(out, &a); err != nil {
		t.Fatalf("POST /certificates/revoke %s: %d, not JSON: %q", body, resp.StatusCode, out)
	}
	return resp.StatusCode, a, out
}

// Revocation (key compromise): POST /certificates/revoke revokes the
// served certificate at pebble (whose management API then reports the old
// serial revoked, reason 1) and answers once a new one is obtained; every
// handshake after it gets the new serial. An unknown name is a 404, a name
// served from a certificate file a 409, a bad reason a 400, all JSON;
// /metrics counts the revocation.
func TestACMERevocation(t *testing.T) {
	r := newACMERig(t, pebbletest.Options{})
	dir := t.TempDir()
	static := newCert(t, dir, "static.test", nil, false, false)
	r.v["static_cert"], r.v["static_key"] = static.CertFile, static.KeyFile
	cfg := strings.Replace(acmeConfig, "      acme:\n",
		"      certificates: [{ cert: \"{{.static_cert}}\", key: \"{{.static_key}}\" }]\n      acme:\n", 1)
	g := startGateway(t, cfg, r.v)
	tlsAddr := g.ListenerAddr("tls")
	roots := r.pebble.Root()
	old := waitCert(t, tlsAddr, "www.example.test", roots, 60*time.Second, nil)
	oldSerial := old.SerialNumber.Text(16)
	if st, err := r.pebble.CertStatus(oldSerial); err != nil || st.Status != "Valid" {
		t.Fatalf("pebble on the served certificate before revocation: %+v, %v", st, err)
	}

	code, a, out := revokeCert(t, g, `{"name": "www.example.test", "reason": "keyCompromise"}`)
	if code != http.StatusOK || a.Name != "www.example.test" || a.RevokedSerial != oldSerial || a.NewSerial == "" || a.NewSerial == oldSerial {
		t.Fatalf("revoke: %d %s; want 200 with revoked_serial %s and a new serial", code, out, oldSerial)
	}
	st, err := r.pebble.CertStatus(oldSerial)
	if err != nil || st.Status != "Revoked" || st.Reason == nil || *st.Reason != 1 {
		t.Fatalf("pebble on the old certificate: %+v, %v; want Revoked, reason 1 (keyCompromise)", st, err)
	}
	if st, err := r.pebble.CertStatus(a.NewSerial); err != nil || st.Status != "Valid" {
		t.Fatalf("pebble on the new certificate: %+v, %v", st, err)
	}
	// No waiting: the answer came once the new certificate was served.
	for i := 0; i < 5; i++ {
		got, err := handshake(tlsAddr, "www.example.test", roots)
		if err != nil {
			t.Fatalf("handshake %d after revocation: %v", i, err)
		}
		if s := got.SerialNumber.Text(16); s != a.NewSerial {
			t.Fatalf("handshake %d after revocation got serial %s, want the new %s (revoked: %s)", i, s, a.NewSerial, oldSerial)
		}
	}
	if n := r.pebble.Issued(); n != 2 {
		t.Fatalf("pebble issued %d certificates, want 2 (the first and its replacement)", n)
	}
	var status acmeStatus
	g.AdminJSON("/status", &status)
	for _, c := range status.Certificates {
		if c.Managed && c.Serial != a.NewSerial {
			t.Fatalf("/status shows serial %s for %v, want %s", c.Serial, c.Names, a.NewSerial)
		}
	}

	for _, tc := range []struct {
		body string
		code int
	}{
		{`{"name": "unknown.example.test"}`, http.StatusNotFound},
		{`{"name": "static.test", "reason": "superseded"}`, http.StatusConflict},
		{`{"name": "www.example.test", "reason": "certificateHold"}`, http.StatusBadRequest},
		{`{"name": `, http.StatusBadRequest},
	} {
		code, a, out := revokeCert(t, g, tc.body)
		if code != tc.code || a.Status != tc.code || a.Error == "" {
			t.Errorf("revoke %s: %d %s, want %d with a JSON error", tc.body, code, out, tc.code)
		}
	}
	if got, err := handshake(tlsAddr, "www.example.test", roots); err != nil || got.SerialNumber.Text(16) != a.NewSerial {
		t.Fatalf("after the refused calls: %v, %v; want serial %s still", got, err, a.NewSerial)
	}
	if n := r.pebble.Issued(); n != 2 {
		t.Fatalf("the refused calls reached the CA: %d issued", n)
	}
	_, metrics := g.AdminDo(newRequest(t, http.MethodGet, g.AdminURL("/metrics"), nil))
	for _, want := range []string{`wasmgate_tls_revocations_total{result="ok"} 1`, `wasmgate_tls_revocations_total{result="ca_refused"} 0`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if n := strings.Count(g.Stderr.String(), "acme: certificate revoked and replaced"); n != 1 {
		t.Errorf("the revocation was logged %d times, want once", n)
	}
}
