package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
)

// infoHandler reports what the server package told it about the request.
func infoHandler(w http.ResponseWriter, r *http.Request) {
	info := ListenerFrom(r.Context())
	if info == nil {
		http.Error(w, "no listener info", 500)
		return
	}
	peer := netip.MustParseAddrPort(r.RemoteAddr).Addr()
	chains, cn := 0, ""
	if r.TLS != nil {
		chains = len(r.TLS.VerifiedChains)
		if len(r.TLS.PeerCertificates) > 0 {
			cn = r.TLS.PeerCertificates[0].Subject.CommonName
		}
	}
	fmt.Fprintf(w, "name=%s tls=%v trusts=%v proto=%s chains=%d cn=%s", info.Name, info.TLS, info.Trusts(peer), r.Proto, chains, cn)
}

func newServer(t *testing.T, h http.Handler, cfgs ...config.Listener) *Server {
	t.Helper()
	s := New(h, slog.New(slog.DiscardHandler), WithDrainTimeout(5*time.Second))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	if err := s.Apply(cfgs); err != nil {
		t.Fatal(err)
	}
	return s
}

func addrOf(t *testing.T, s *Server, name string) string {
	t.Helper()
	a := s.Addrs()[name]
	if a == nil {
		t.Fatalf("no listener %q in %v", name, s.Addrs())
	}
	return a.String()
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func trusted(cidrs ...string) []config.CIDR {
	var out []config.CIDR
	for _, c := range cidrs {
		out = append(out, config.CIDR{Prefix: netip.MustParsePrefix(c)})
	}
	return out
}

// rawGet sends one keep-alive request on conn and reads the response, so a
// test knows exactly which connection carried it.
func rawGet(t *testing.T, conn net.Conn, br *bufio.Reader) string {
	t.Helper()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.Close {
		t.Fatal("server closed the keep-alive connection")
	}
	return string(body)
}

func TestHTTP1AndListenerInfo(t *testing.T) {
	s := newServer(t, http.HandlerFunc(infoHandler),
		config.Listener{Name: "plain", Address: "127.0.0.1:0", TrustedProxies: trusted("127.0.0.0/8")},
		config.Listener{Name: "other", Address: "127.0.0.1:0", TrustedProxies: trusted("10.0.0.0/8")})

	resp, body := get(t, http.DefaultClient, "http://"+addrOf(t, s, "plain")+"/")
	if resp.StatusCode != 200 || body != "name=plain tls=false trusts=true proto=HTTP/1.1 chains=0 cn=" {
		t.Fatalf("plain: %d %q", resp.StatusCode, body)
	}
	_, body = get(t, http.DefaultClient, "http://"+addrOf(t, s, "other")+"/")
	if !strings.HasPrefix(body, "name=other tls=false trusts=false ") {
		t.Fatalf("other: %q", body)
	}
}

func TestListenerFromForeignContext(t *testing.T) {
	if ListenerFrom(context.Background()) != nil {
		t.Fatal("want nil Info outside a listener")
	}
	if (*Info)(nil).Trusts(netip.MustParseAddr("127.0.0.1")) {
		t.Fatal("nil Info trusts nobody")
	}
	i := newInfo("x", config.Listener{TrustedProxies: trusted("192.0.2.0/24")})
	if !i.Trusts(netip.MustParseAddr("::ffff:192.0.2.7")) {
		t.Fatal("IPv4-mapped address must match its IPv4 prefix")
	}
}

// tlsListener is a listener serving a.test and *.b.test from files in dir.
func tlsListener(t *testing.T, ca *testCA, dir string) config.Listener {
	aCert, aKey := ca.writeServerCert(t, dir, "a", "a.test")
	bCert, bKey := ca.writeServerCert(t, dir, "b", "*.b.test")
	return config.Listener{Name: "tls", Address: "127.0.0.1:0", TLS: &config.TLS{
		Certificates: []config.Certificate{{Cert: aCert, Key: aKey}, {Cert: bCert, Key: bKey}},
	}}
}

// servedNames handshakes with serverName as SNI and returns the DNS names of
// the certificate the server chose.
func servedNames(t *testing.T, addr, serverName string) []string {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: serverName, InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("handshake with SNI %q: %v", serverName, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].DNSNames
}

func TestTLSCertificateBySNI(t *testing.T) {
	ca := newTestCA(t)
	s := newServer(t, http.HandlerFunc(infoHandler), tlsListener(t, ca, t.TempDir()))
	addr := addrOf(t, s, "tls")

	for sni, want := range map[string]string{
		"a.test":     "a.test",
		"A.TEST":     "a.test",
		"x.b.test":   "*.b.test",
		"b.test":     "a.test", // a wildcard does not cover its parent
		"y.x.b.test": "a.test", // nor two labels
		"c.test":     "a.test", // unknown: the first certificate
		"":           "a.test", // no SNI
	} {
		if got := servedNames(t, addr, sni); len(got) != 1 || got[0] != want {
			t.Errorf("SNI %q: served %v, want %s", sni, got, want)
		}
	}

	// A verifying client accepts the wildcard certificate for its name.
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool, ServerName: "api.b.test"}}}
	_, body := get(t, c, "https://"+addr+"/")
	if !strings.HasPrefix(body, "name=tls tls=true ") {
		t.Fatalf("body %q", body)
	}
}

func TestH2OverTLS(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	on := tlsListener(t, ca, dir)
	off := tlsListener(t, ca, dir)
	off.Name, off.TLS.HTTP2 = "h1only", new(bool)
	s := newServer(t, http.HandlerFunc(infoHandler), on, off)

	c := &http.Client{Transport: &http.Transport{
		ForceAttemptHTTP2: true,
		TLSClientConfig:   &tls.Config{RootCAs: ca.pool, ServerName: "a.test"},
	}}
	t.Cleanup(c.CloseIdleConnections) // else the h2 GOAWAY waits a second for us
	resp, body := get(t, c, "https://"+addrOf(t, s, "tls")+"/")
	if resp.ProtoMajor != 2 || !strings.Contains(body, "proto=HTTP/2.0") {
		t.Fatalf("want h2, got %s (%q)", resp.Proto, body)
	}
	resp, _ = get(t, c, "https://"+addrOf(t, s, "h1only")+"/")
	if resp.ProtoMajor != 1 {
		t.Fatalf("tls.http2 false: got %s", resp.Proto)
	}
}

func h2cClient(t *testing.T) *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	c := &http.Client{Transport: &http.Transport{Protocols: &p}}
	t.Cleanup(c.CloseIdleConnections) // else the h2 GOAWAY waits a second for us
	return c
}

func TestH2CPriorKnowledge(t *testing.T) {
	s := newServer(t, http.HandlerFunc(infoHandler),
		config.Listener{Name: "h2c", Address: "127.0.0.1:0", H2C: true},
		config.Listener{Name: "h1", Address: "127.0.0.1:0"})

	resp, body := get(t, h2cClient(t), "http://"+addrOf(t, s, "h2c")+"/")
	if resp.ProtoMajor != 2 || !strings.Contains(body, "name=h2c") {
		t.Fatalf("h2c enabled: got %s %q", resp.Proto, body)
	}
	resp, err := h2cClient(t).Get("http://" + addrOf(t, s, "h1") + "/")
	if err == nil {
		resp.Body.Close()
		if resp.ProtoMajor == 2 {
			t.Fatal("h2c served on a listener without h2c")
		}
	}
	// HTTP/1.1 still works where h2c is on.
	resp, _ = get(t, http.DefaultClient, "http://"+addrOf(t, s, "h2c")+"/")
	if resp.ProtoMajor != 1 {
		t.Fatalf("HTTP/1.1 client got %s", resp.Proto)
	}
}

func TestMutualTLS(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	caFile := dir + "/ca.pem"
	writeFile(t, caFile, ca.pem)
	require := tlsListener(t, ca, dir)
	require.Name, require.TLS.ClientCA = "require", caFile
	request := tlsListener(t, ca, dir)
	request.Name, request.TLS.ClientCA, request.TLS.ClientAuth = "request", caFile, "request"
	s := newServer(t, http.HandlerFunc(infoHandler), require, request)

	client := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: ca.pool, ServerName: "a.test", Certificates: certs,
		}}}
	}
	if resp, err := client().Get("https://" + addrOf(t, s, "require") + "/"); err == nil {
		resp.Body.Close()
		t.Fatalf("require: a client without certificate got %s", resp.Status)
	}
	other := newTestCA(t) // a certificate from a CA we do not trust
	if resp, err := client(other.clientCert(t, "mallory")).Get("https://" + addrOf(t, s, "require") + "/"); err == nil {
		resp.Body.Close()
		t.Fatalf("require: a client with an untrusted certificate got %s", resp.Status)
	}
	_, body := get(t, client(ca.clientCert(t, "alice")), "https://"+addrOf(t, s, "require")+"/")
	if !strings.Contains(body, "chains=1 cn=alice") {
		t.Fatalf("require with a good certificate: %q", body)
	}
	_, body = get(t, client(), "https://"+addrOf(t, s, "request")+"/")
	if !strings.Contains(body, "chains=0 cn=") {
		t.Fatalf("request without certificate: %q", body)
	}
	_, body = get(t, client(ca.clientCert(t, "bob")), "https://"+addrOf(t, s, "request")+"/")
	if !strings.Contains(body, "chains=1 cn=bob") {
		t.Fatalf("request with a certificate: %q", body)
	}
}

func TestReadHeaderTimeoutCutsSlowloris(t *testing.T) {
	s := newServer(t, http.HandlerFunc(infoHandler), config.Listener{
		Name: "l", Address: "127.0.0.1:0",
		Timeouts: config.ServerTimeouts{ReadHeader: config.Duration(200 * time.Millisecond)},
	})
	conn, err := net.Dial("tcp", addrOf(t, s, "l"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "); err != nil {
		t.Fatal(err)
	}
	// The deadline is far above the configured timeout: only the server
	// closing the connection ends this read in time.
	start := time.Now()
	conn.SetReadDeadline(start.Add(10 * time.Second))
	_, err = io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("server kept a connection with an unfinished header open")
	}
	if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("read: %v", err)
	}
	if elapsed := time.Since(start); elapsed < 100*time.Millisecond {
		t.Fatalf("closed after %v, before the timeout", elapsed)
	}
}

func TestMaxHeaderBytes(t *testing.T) {
	s := newServer(t, http.HandlerFunc(infoHandler), config.Listener{Name: "l", Address: "127.0.0.1:0", MaxHeaderBytes: 1024})
	url := "http://" + addrOf(t, s, "l") + "/"
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("X-Big", strings.Repeat("x", 8<<10)) // beyond 1KiB + net/http's 4KiB slack
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("got %s, want 431", resp.Status)
	}
	if resp, _ := get(t, http.DefaultClient, url); resp.StatusCode != 200 {
		t.Fatalf("small header: %s", resp.Status)
	}
}

func TestApplyAddsAndRemovesListeners(t *testing.T) {
	a := config.Listener{Name: "a", Address: "127.0.0.1:0"}
	b := config.Listener{Name: "b", Address: "127.0.0.1:0"}
	s := newServer(t, http.HandlerFunc(infoHandler), a)
	addrA := addrOf(t, s, "a")

	if err := s.Apply([]config.Listener{a, b}); err != nil {
		t.Fatal(err)
	}
	if got := addrOf(t, s, "a"); got != addrA {
		t.Fatalf("unchanged listener rebound: %s -> %s", addrA, got)
	}
	addrB := addrOf(t, s, "b")
	if _, body := get(t, http.DefaultClient, "http://"+addrB+"/"); !strings.HasPrefix(body, "name=b ") {
		t.Fatalf("added listener: %q", body)
	}

	if err := s.Apply([]config.Listener{b}); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Addrs()["a"]; ok {
		t.Fatal("removed listener still in Addrs")
	}
	if conn, err := net.Dial("tcp", addrA); err == nil {
		conn.Close()
		t.Fatal("removed listener's port still accepts")
	}
	if _, body := get(t, http.DefaultClient, "http://"+addrB+"/"); !strings.HasPrefix(body, "name=b ") {
		t.Fatalf("kept listener: %q", body)
	}
}

func TestApplyReloadsCertificatesInPlace(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	l := tlsListener(t, ca, dir)
	l.TrustedProxies = trusted("127.0.0.1/32")
	s := newServer(t, http.HandlerFunc(infoHandler), l)
	addr := addrOf(t, s, "tls")

	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.pool, ServerName: "a.test", NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	oldSerial := conn.ConnectionState().PeerCertificates[0].SerialNumber
	br := bufio.NewReader(conn)
	if body := rawGet(t, conn, br); !strings.Contains(body, "trusts=true") {
		t.Fatalf("before reload: %q", body)
	}

	// Renew a.test on disk (same paths), drop the trusted proxy, reload.
	ca.writeServerCert(t, dir, "a", "a.test", "www.a.test")
	l.TrustedProxies = nil
	if err := s.Apply([]config.Listener{l}); err != nil {
		t.Fatal(err)
	}
	if got := addrOf(t, s, "tls"); got != addr {
		t.Fatalf("rebound: %s -> %s", addr, got)
	}
	// The open connection still works, and its next request sees the new
	// trusted proxies.
	if body := rawGet(t, conn, br); !strings.Contains(body, "trusts=false") {
		t.Fatalf("after reload on the old connection: %q", body)
	}
	// A new handshake gets the new certificate.
	if got := servedNames(t, addr, "www.a.test"); len(got) != 2 || got[1] != "www.a.test" {
		t.Fatalf("after reload: served %v", got)
	}
	c2, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.pool, ServerName: "a.test"})
	if err != nil {
		t.Fatal(err)
	}
	c2.Close()
	if c2.ConnectionState().PeerCertificates[0].SerialNumber.Cmp(oldSerial) == 0 {
		t.Fatal("old certificate still served after reload")
	}
}

func TestApplyNewSettingsKeepPortAndDrainOldServer(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
		}
		infoHandler(w, r)
	})
	l := config.Listener{Name: "l", Address: "127.0.0.1:0"}
	s := newServer(t, h, l)
	addr := addrOf(t, s, "l")

	slow := make(chan string)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			slow <- err.Error()
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- string(body)
	}()
	<-entered

	l.H2C = true // needs a new http.Server
	if err := s.Apply([]config.Listener{l}); err != nil {
		t.Fatal(err)
	}
	if got := addrOf(t, s, "l"); got != addr {
		t.Fatalf("rebound: %s -> %s", addr, got)
	}
	resp, _ := get(t, h2cClient(t), "http://"+addr+"/")
	if resp.ProtoMajor != 2 {
		t.Fatalf("after enabling h2c: %s", resp.Proto)
	}
	close(release)
	if body := <-slow; !strings.HasPrefix(body, "name=l ") {
		t.Fatalf("in-flight request on the replaced server: %q", body)
	}
}

func TestApplyFailureLeavesRunningSet(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	plain := config.Listener{Name: "plain", Address: "127.0.0.1:0"}
	secure := tlsListener(t, ca, dir)
	s := newServer(t, http.HandlerFunc(infoHandler), plain, secure)
	before := s.Addrs()

	check := func() {
		t.Helper()
		after := s.Addrs()
		if len(after) != len(before) {
			t.Fatalf("listeners changed: %v -> %v", before, after)
		}
		for name, a := range before {
			if after[name] == nil || after[name].String() != a.String() {
				t.Fatalf("listener %s changed: %v -> %v", name, a, after[name])
			}
		}
		if got := servedNames(t, before["tls"].String(), "x.b.test"); got[0] != "*.b.test" {
			t.Fatalf("certificates changed: %v", got)
		}
		if _, body := get(t, http.DefaultClient, "http://"+before["plain"].String()+"/"); !strings.HasPrefix(body, "name=plain ") {
			t.Fatalf("plain listener: %q", body)
		}
	}

	// A broken certificate file, a missing key, and a new listener that
	// would have been fine: nothing changes, every problem is named.
	bad := *secure.TLS
	bad.Certificates = []config.Certificate{
		secure.TLS.Certificates[0],
		{Cert: dir + "/garbage.pem", Key: secure.TLS.Certificates[1].Key},
		{Cert: secure.TLS.Certificates[1].Cert, Key: dir + "/missing.key"},
	}
	writeFile(t, dir+"/garbage.pem", []byte("not a certificate"))
	badSecure := secure
	badSecure.TLS = &bad
	err := s.Apply([]config.Listener{plain, badSecure, {Name: "new", Address: "127.0.0.1:0"}})
	if err == nil {
		t.Fatal("Apply with a bad certificate succeeded")
	}
	for _, want := range []string{
		"listeners[1].tls.certificates[1].cert: cannot load " + dir + "/garbage.pem",
		"listeners[1].tls.certificates[2].key: cannot load " + dir + "/missing.key",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if path, _, ok := config.AsFieldErr(err); !ok || !strings.HasPrefix(path, "listeners[1].tls.certificates[") {
		t.Errorf("not a FieldErr with a root path: %q %v", path, ok)
	}
	check()

	// A port in use.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	err = s.Apply([]config.Listener{{Name: "new", Address: "127.0.0.1:0"}, {Name: "busy", Address: busy.Addr().String()}})
	if err == nil || !strings.Contains(err.Error(), "listeners[1].address: cannot listen on "+busy.Addr().String()) {
		t.Fatalf("Apply on a busy port: %v", err)
	}
	check()

	// Invalid settings are named too.
	bad2 := *secure.TLS
	bad2.MinVersion, bad2.ClientAuth = "1.1", "require"
	badSecure.TLS = &bad2
	err = s.Apply([]config.Listener{plain, badSecure, {Name: "plain", Address: "nohost"}})
	for _, want := range []string{
		`listeners[1].tls.min_version: "1.1" is not a supported version`,
		`listeners[1].tls.client_auth: "require" needs tls.client_ca`,
		`listeners[2].name: "plain" is already the name of listeners[0]`,
		`listeners[2].address: "nohost" is not host:port`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	check()
}

func TestShutdownDrainsInFlightRequest(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	body := strings.Repeat("payload ", 1<<14)
	s := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, body)
	}), nil)
	if err := s.Apply([]config.Listener{{Name: "l", Address: "127.0.0.1:0"}}); err != nil {
		t.Fatal(err)
	}
	addr := addrOf(t, s, "l")

	got := make(chan string)
	go func() {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			got <- err.Error()
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(b)
	}()
	<-entered

	stopped := make(chan error)
	go func() { stopped <- s.Shutdown(context.Background()) }()
	// Shutdown closes the port first; wait until it has, so the release
	// below happens during the drain.
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("port still accepts after Shutdown")
		}
		time.Sleep(time.Millisecond) // poll interval; the closed port is what is waited for
	}
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned (%v) with a request in flight", err)
	default:
	}
	close(release)
	if b := <-got; b != body {
		t.Fatalf("client got %d bytes (%.60q), want the full %d", len(b), b, len(body))
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(nil); err == nil {
		t.Fatal("Apply after Shutdown succeeded")
	}
}

func TestShutdownForceClosesAfterContext(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	s := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
	}), nil)
	if err := s.Apply([]config.Listener{{Name: "l", Address: "127.0.0.1:0"}}); err != nil {
		t.Fatal(err)
	}
	clientErr := make(chan error)
	go func() {
		resp, err := http.Get("http://" + addrOf(t, s, "l") + "/")
		if err == nil {
			resp.Body.Close()
		}
		clientErr <- err
	}()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-clientErr; err == nil {
		t.Fatal("connection not closed after the drain deadline")
	}
}

func TestErrorLogDemotesHandshakeNoise(t *testing.T) {
	var buf bytes.Buffer
	l := newErrorLog(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	l.Printf("http: TLS handshake error from 192.0.2.1:5555: EOF")
	l.Printf("http: Accept error: too many open files")
	out := buf.String()
	if !strings.Contains(out, `level=DEBUG msg="http: TLS handshake error`) || !strings.Contains(out, `level=WARN msg="http: Accept error`) {
		t.Fatalf("log:\n%s", out)
	}
}
