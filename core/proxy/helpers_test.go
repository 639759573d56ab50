package proxy

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/upstream"
)

// newUpstream builds an upstream pointing at url (plus a base path), with
// optional config tweaks.
func newUpstream(t testing.TB, url string, tweak func(*config.Upstream)) *upstream.Upstream {
	t.Helper()
	c := &config.Upstream{Targets: []config.Target{{URL: url}}, MaxIdlePerTarget: 64}
	if tweak != nil {
		tweak(c)
	}
	up, err := upstream.New("test", c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(up.Close)
	return up
}

// startBackend starts an HTTP/1.1 test upstream.
func startBackend(t testing.TB, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

// startH2C starts a server speaking HTTP/1.1 and HTTP/2 without TLS.
func startH2C(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	s.Config.Protocols = new(http.Protocols)
	s.Config.Protocols.SetHTTP1(true)
	s.Config.Protocols.SetUnencryptedHTTP2(true)
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// gateway is the lead's request path in miniature: StripHopByHop,
// RoundTrip, the response phase (edit), WriteResponse; as the gateway will
// call them.
type gateway struct {
	p       *Proxy
	up      *upstream.Upstream
	trusted bool
	// clientIP overrides the resolved client (a trusted proxy's report).
	clientIP netip.Addr
	// edit stands in for response filters.
	edit func(x *filter.Exchange)
	// errs receives the WriteResponse error, if the test wants it.
	errs chan *Error
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	StripHopByHop(r.Header)
	x := &filter.Exchange{Request: r, Start: time.Now()}
	_, x.ClientIP = splitPeer(r.RemoteAddr)
	if g.clientIP.IsValid() {
		x.ClientIP = g.clientIP
	}
	resp, perr := g.p.RoundTrip(w, x, g.up, g.trusted)
	if perr != nil {
		if perr.Kind == KindClientGone {
			return
		}
		x.Response = perr.Response()
	} else {
		x.Response = &filter.Response{Status: resp.StatusCode, Header: resp.Header}
	}
	if g.edit != nil {
		g.edit(x)
	}
	err := g.p.WriteResponse(w, r, x, resp)
	if g.errs != nil {
		g.errs <- err
	}
	if err != nil && err.Aborted {
		panic(http.ErrAbortHandler)
	}
}

// startFront starts the gateway side as an HTTP/1.1 + h2c server.
func startFront(t testing.TB, g *gateway) *httptest.Server {
	t.Helper()
	return startH2C(t, g)
}

// rawExchange sends a hand-written request over a fresh TCP connection and
// reads the response, for headers http.Client would not send as written.
func rawExchange(t *testing.T, addr, req string) (*http.Response, *bufio.Reader, net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(strings.ReplaceAll(req, "\n", "\r\n"))); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp, br, c
}

// hostOf returns the host:port of a test server.
func hostOf(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }
