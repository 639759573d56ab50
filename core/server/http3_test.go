package server

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/wasmgate/wasmgate/core/config"
)

// h3Listener is tlsListener with http3 on.
func h3Listener(t *testing.T, ca *testCA) config.Listener {
	l := tlsListener(t, ca, t.TempDir())
	l.HTTP3 = &config.HTTP3{}
	return l
}

// dialH3 opens one QUIC connection to addr and returns an HTTP/3 client
// connection on it, so a test can tell which connection a request took.
func dialH3(t *testing.T, ca *testCA, addr string, certs ...tls.Certificate) (*http3.ClientConn, *quic.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	qc, err := quic.DialAddr(ctx, addr, &tls.Config{RootCAs: ca.pool, ServerName: "a.test", NextProtos: []string{http3.NextProtoH3}, Certificates: certs}, nil)
	if err != nil {
		t.Fatalf("QUIC dial %s: %v", addr, err)
	}
	t.Cleanup(func() { qc.CloseWithError(0, "") })
	return (&http3.Transport{}).NewClientConn(qc), qc
}

func h3Get(cc *http3.ClientConn, url string) (*http.Response, string, error) {
	req, _ := http.NewRequest("GET", url, nil)
	resp, err := cc.RoundTrip(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

func TestHTTP3ServesTheListenersHandlerAndTCPAdvertisesIt(t *testing.T) {
	ca := newTestCA(t)
	s := newServer(t, http.HandlerFunc(infoHandler), h3Listener(t, ca))
	addr := addrOf(t, s, "tls")
	_, port, _ := net.SplitHostPort(addr)

	cc, _ := dialH3(t, ca, addr)
	resp, body, err := h3Get(cc, "https://a.test/")
	if err != nil {
		t.Fatal(err)
	}
	if resp.ProtoMajor != 3 || !strings.HasPrefix(body, "name=tls tls=true trusts=false proto=HTTP/3.0") {
		t.Fatalf("over HTTP/3: %s %q", resp.Proto, body)
	}

	// h1 and h2 responses advertise the UDP port, which is the TCP one.
	want := `h3=":` + port + `"; ma=86400`
	for _, h2 := range []bool{false, true} {
		c := &http.Client{Transport: &http.Transport{ForceAttemptHTTP2: h2, TLSClientConfig: &tls.Config{RootCAs: ca.pool, ServerName: "a.test"}}}
		resp, _ := get(t, c, "https://"+addr+"/")
		c.CloseIdleConnections()
		if got := resp.Header.Values("Alt-Svc"); len(got) != 1 || got[0] != want {
			t.Errorf("%s: Alt-Svc %q, want %q", resp.Proto, got, want)
		}
	}

	// A listener without http3 advertises nothing.
	plain := newServer(t, http.HandlerFunc(infoHandler), tlsListener(t, ca, t.TempDir()))
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool, ServerName: "a.test"}}}
	resp, _ = get(t, c, "https://"+addrOf(t, plain, "tls")+"/")
	if got := resp.Header.Get("Alt-Svc"); got != "" {
		t.Errorf("listener without http3: Alt-Svc %q", got)
	}
}

func TestHTTP3MutualTLS(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	l := h3Listener(t, ca)
	caFile := dir + "/ca.pem"
	writeFile(t, caFile, ca.pem)
	l.TLS.ClientCA = caFile
	s := newServer(t, http.HandlerFunc(infoHandler), l)
	addr := addrOf(t, s, "tls")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if qc, err := quic.DialAddr(ctx, addr, &tls.Config{RootCAs: ca.pool, ServerName: "a.test", NextProtos: []string{http3.NextProtoH3}}, nil); err == nil {
		// TLS 1.3: the server's verdict on the client's certificate may
		// arrive after the client's handshake is done.
		_, _, err = h3Get((&http3.Transport{}).NewClientConn(qc), "https://a.test/")
		qc.CloseWithError(0, "")
		if err == nil {
			t.Fatal("request without a client certificate was served")
		}
	}
	cc, _ := dialH3(t, ca, addr, ca.clientCert(t, "alice"))
	_, body, err := h3Get(cc, "https://a.test/")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body, "chains=1 cn=alice") {
		t.Fatalf("body %q", body)
	}
}

func TestHTTP3ConnectionsCountInTheListenersCaps(t *testing.T) {
	ca := newTestCA(t)
	l := h3Listener(t, ca)
	l.MaxConnections = 1
	s := newServer(t, http.HandlerFunc(infoHandler), l)
	addr := addrOf(t, s, "tls")

	cc, qc := dialH3(t, ca, addr)
	if _, _, err := h3Get(cc, "https://a.test/"); err != nil {
		t.Fatal(err)
	}
	// The QUIC connection holds the only place: TCP is refused...
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.pool, ServerName: "a.test"})
	if err == nil {
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err == nil {
		t.Fatal("TCP connection admitted past max_connections: 1 with a QUIC connection open")
	}
	// ...and so is a second QUIC connection.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if qc2, err := quic.DialAddr(ctx, addr, &tls.Config{RootCAs: ca.pool, ServerName: "a.test", NextProtos: []string{http3.NextProtoH3}}, nil); err == nil {
		qc2.CloseWithError(0, "")
		t.Fatal("second QUIC connection admitted past max_connections: 1")
	}
	var st Stats
	s.ReadStats(&st)
	if st.ConnectionsRefused[refusedMaxConnections] < 2 {
		t.Errorf("refused for max_connections: %d, want at least 2", st.ConnectionsRefused[refusedMaxConnections])
	}

	// Closing the QUIC connection gives its place back.
	qc.CloseWithError(0, "")
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool, ServerName: "a.test"}}}
		resp, err := c.Get("https://" + addr + "/")
		c.CloseIdleConnections()
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the place of a closed QUIC connection was not given back: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}

func TestHTTP3ReloadKeepsSocketAndConnections(t *testing.T) {
	ca := newTestCA(t)
	l := h3Listener(t, ca)
	s := newServer(t, http.HandlerFunc(infoHandler), l)
	addr := addrOf(t, s, "tls")

	cc, qc := dialH3(t, ca, addr)
	if _, _, err := h3Get(cc, "https://a.test/"); err != nil {
		t.Fatal(err)
	}
	// Same settings: nothing is restarted; the connection serves on.
	if err := s.Apply([]config.Listener{l}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h3Get(cc, "https://a.test/"); err != nil {
		t.Fatalf("after a reload with the same settings: %v", err)
	}
	// New HTTP/3 settings: a new generation; the port stays bound, and new
	// connections are served with them.
	l.HTTP3 = &config.HTTP3{MaxStreams: 7}
	if err := s.Apply([]config.Listener{l}); err != nil {
		t.Fatal(err)
	}
	if got := addrOf(t, s, "tls"); got != addr {
		t.Fatalf("address moved from %s to %s", addr, got)
	}
	cc2, qc2 := dialH3(t, ca, addr)
	if _, _, err := h3Get(cc2, "https://a.test/"); err != nil {
		t.Fatalf("new connection after reload: %v", err)
	}
	if n := qc2.ConnectionState().TLS.NegotiatedProtocol; n != "h3" {
		t.Fatalf("ALPN %q", n)
	}
	// The connection of the old generation was sent GOAWAY: it takes no
	// new request, and ends.
	select {
	case <-qc.Context().Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the old generation's connection is still open")
	}

	// http3 off: the UDP port is given back once drained.
	l.HTTP3 = nil
	if err := s.Apply([]config.Listener{l}); err != nil {
		t.Fatal(err)
	}
	qc2.CloseWithError(0, "")
	deadline := time.Now().Add(20 * time.Second)
	for {
		udp, err := net.ListenPacket("udp", addr)
		if err == nil {
			udp.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("UDP port still bound after http3 was turned off: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}

func TestHTTP3ShutdownFinishesInFlightAndSendsGoaway(t *testing.T) {
	ca := newTestCA(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var n atomic.Int32
	s := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
		}
		n.Add(1)
		io.WriteString(w, "done")
	}), nil)
	if err := s.Apply([]config.Listener{h3Listener(t, ca)}); err != nil {
		t.Fatal(err)
	}
	addr := addrOf(t, s, "tls")
	cc, _ := dialH3(t, ca, addr)

	got := make(chan string, 1)
	go func() {
		_, body, err := h3Get(cc, "https://a.test/slow")
		if err != nil {
			body = err.Error()
		}
		got <- body
	}()
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- s.Shutdown(context.Background()) }()

	// GOAWAY reaches the client: its next request is refused at its end,
	// while the one in flight goes on.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _, err := h3Get(cc, "https://a.test/fast")
		if err != nil {
			// The client either knew of GOAWAY before sending, or sent
			// the request past it and the server rejected the stream.
			if !strings.Contains(err.Error(), "graceful shutdown") && !strings.Contains(err.Error(), "H3_REQUEST_REJECTED") {
				t.Fatalf("request after Shutdown: %v, want GOAWAY or the stream rejected", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no GOAWAY after Shutdown")
		}
		time.Sleep(10 * time.Millisecond) // poll interval
	}
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned (%v) with a request in flight", err)
	default:
	}
	close(release)
	if b := <-got; b != "done" {
		t.Fatalf("in-flight request: %q", b)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	// And the port is closed.
	udp, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("UDP port still bound after Shutdown: %v", err)
	}
	udp.Close()
}

func TestHTTP3RapidResetClosesConnection(t *testing.T) {
	ca := newTestCA(t)
	started := make(chan struct{})
	s := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-r.Context().Done() // a slow route: it ends when the client resets
	}), h3Listener(t, ca))
	cc, qc := dialH3(t, ca, addrOf(t, s, "tls"))

	for i := 0; i < 3*minResets && qc.Context().Err() == nil; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", "https://a.test/"+strconv.Itoa(i), nil)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if resp, err := cc.RoundTrip(req); err == nil {
				resp.Body.Close()
			}
		}()
		select { // the handler runs: the client resets its stream
		case <-started:
		case <-qc.Context().Done():
		}
		cancel()
		<-done
	}
	select {
	case <-qc.Context().Done():
	case <-time.After(20 * time.Second):
		t.Fatal("connection resetting every stream was not closed")
	}
	var appErr *quic.ApplicationError
	if err := context.Cause(qc.Context()); !errors.As(err, &appErr) || appErr.ErrorCode != quic.ApplicationErrorCode(http3.ErrCodeExcessiveLoad) {
		t.Fatalf("connection ended with %v, want H3_EXCESSIVE_LOAD", err)
	}
	var st Stats
	s.ReadStats(&st)
	if st.ResetCloses != 1 {
		t.Fatalf("ResetCloses %d, want 1", st.ResetCloses)
	}
}

// A client that neither closes its connection on GOAWAY nor sends
// anything (vanished, or dropped the connection from its pool) does not
// hold the stop until the idle timeout.
func TestHTTP3ShutdownClosesIdleConnections(t *testing.T) {
	ca := newTestCA(t)
	l := h3Listener(t, ca)
	l.HTTP3.IdleTimeout = config.Duration(time.Minute)
	s := New(http.HandlerFunc(infoHandler), nil)
	if err := s.Apply([]config.Listener{l}); err != nil {
		t.Fatal(err)
	}
	// A bare QUIC connection: no HTTP/3 client reads the GOAWAY.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	qc, err := quic.DialAddr(ctx, addrOf(t, s, "tls"), &tls.Config{RootCAs: ca.pool, ServerName: "a.test", NextProtos: []string{http3.NextProtoH3}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer qc.CloseWithError(0, "")

	start := time.Now()
	stopped := make(chan error, 1)
	go func() { stopped <- s.Shutdown(context.Background()) }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		// The idle timeout both sides agree on is the client's 30s.
		t.Fatal("Shutdown waits for an idle QUIC connection until its idle timeout")
	}
	select {
	case <-qc.Context().Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the idle connection was not closed")
	}
	t.Logf("stopped after %s", time.Since(start).Round(time.Millisecond))
}

// 0-RTT is refused unless allow_0rtt: a resumed connection's early data
// (replayable) is accepted only when the listener says so.
func TestHTTP3ZeroRTTOnlyWhenAllowed(t *testing.T) {
	ca := newTestCA(t)
	for _, allow := range []bool{false, true} {
		l := h3Listener(t, ca)
		l.HTTP3.Allow0RTT = allow
		s := newServer(t, http.HandlerFunc(infoHandler), l)
		addr := addrOf(t, s, "tls")
		conf := &tls.Config{RootCAs: ca.pool, ServerName: "a.test", NextProtos: []string{http3.NextProtoH3},
			ClientSessionCache: tls.NewLRUClientSessionCache(4)}
		dial := func() *quic.Conn {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			qc, err := quic.DialAddrEarly(ctx, addr, conf, nil)
			if err != nil {
				t.Fatal(err)
			}
			return qc
		}
		// The first connection gets a session ticket (sent after the
		// handshake, read while the connection serves a request).
		qc := dial()
		if _, _, err := h3Get((&http3.Transport{}).NewClientConn(qc), "https://a.test/"); err != nil {
			t.Fatal(err)
		}
		qc.CloseWithError(0, "")
		qc = dial()
		select {
		case <-qc.HandshakeComplete():
		case <-time.After(10 * time.Second):
			t.Fatal("no handshake")
		}
		used := qc.ConnectionState().Used0RTT
		qc.CloseWithError(0, "")
		if !qc.ConnectionState().TLS.DidResume {
			t.Fatalf("allow_0rtt %v: the second connection did not resume its session", allow)
		}
		if used != allow {
			t.Errorf("allow_0rtt %v: 0-RTT used %v", allow, used)
		}
	}
}
