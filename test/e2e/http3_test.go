package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/wasmgate/wasmgate/test/internal/gatewaytest"
)

// http3Config serves every route on one TLS listener with http3 on: a
// plain route, a JWT route, a Wasm filter route (the add-header plugin),
// and a streaming app.
const http3Config = `
listeners:
  - address: "{{.listen}}"
    tls: { certificates: [{ cert: "{{.cert}}", key: "{{.key}}" }] }
    http3: { max_streams: {{.streams}} }
admin: { address: "{{.admin}}" }
server: { drain_timeout: 20s }
plugins:
  hello: { source: "{{.addheader}}", config: { name: x-hello, value: over-h3 } }
upstreams:
  echo: { targets: [{ url: "{{.echo}}" }] }
  app: { targets: [{ url: "{{.app}}" }] }
routes:
  - name: jwt
    match: { prefix: /jwt }
    filters:
      - jwt: { issuer: "https://issuer.test/", audiences: [api], jwks_url: "{{.jwks}}", algorithms: [RS256] }
    upstream: echo
  - name: wasm
    match: { prefix: /wasm }
    filters: [{ wasm: hello }]
    upstream: echo
  - name: app
    match: { prefix: /app }
    upstream: app
  - name: echo
    upstream: echo
`

// h3App is the upstream of the app route: /app/sse sends one event, then
// a second once released; /app/echo sends the request body back;
// /app/slow answers once released.
type h3App struct {
	*httptest.Server
	sseRelease  chan struct{}
	slowArrived chan struct{}
	slowRelease chan struct{}
}

func newH3App(t *testing.T) *h3App {
	a := &h3App{sseRelease: make(chan struct{}), slowArrived: make(chan struct{}), slowRelease: make(chan struct{})}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/app/sse":
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: first\n\n")
			w.(http.Flusher).Flush()
			select {
			case <-a.sseRelease:
			case <-r.Context().Done():
				return
			}
			io.WriteString(w, "data: second\n\n")
		case "/app/echo":
			io.Copy(w, r.Body)
		case "/app/slow":
			close(a.slowArrived)
			select {
			case <-a.slowRelease:
			case <-r.Context().Done():
				return
			}
			io.WriteString(w, "slow done")
		default:
			io.WriteString(w, "app "+r.URL.Path)
		}
	}))
	t.Cleanup(a.Close)
	return a
}

type h3Setup struct {
	g     *gateway
	app   *h3App
	roots *tls.Config // client TLS trusting the gateway's certificate, SNI a.test
	key   *rsa.PrivateKey
}

func startH3Gateway(t *testing.T) *h3Setup {
	t.Helper()
	needBinary(t)
	dir := t.TempDir()
	cert := newCert(t, dir, "a.test", nil, false, false)
	jwks := newJWKSServer(t)
	key := rsaKey(t)
	jwks.serve(map[string]*rsa.PrivateKey{"k1": key})
	app := newH3App(t)
	addHeader, _ := filepath.Abs("../../plugins/add-header/add-header.wasm")
	g := startGateway(t, http3Config, vars{
		"cert": cert.CertFile, "key": cert.KeyFile, "streams": "100",
		"addheader": addHeader, "echo": newEcho(t, "echo").URL, "app": app.URL, "jwks": jwks.URL,
	}, startOptions{Symlinked: true})
	return &h3Setup{g: g, app: app, key: key, roots: &tls.Config{RootCAs: certPool(cert), ServerName: "a.test"}}
}

func (s *h3Setup) transport(t *testing.T) *http3.Transport {
	tr := &http3.Transport{TLSClientConfig: s.roots.Clone()}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func (s *h3Setup) url(path string) string { return "https://" + s.g.Listen + path }

// do sends req over rt and returns the response with its body read.
func doWith(t *testing.T, rt http.RoundTripper, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return resp, body
}

func TestHTTP3(t *testing.T) {
	s := startH3Gateway(t)
	tr := s.transport(t)
	h3 := func(t *testing.T, method, path string, body io.Reader, hdr ...string) (*http.Response, []byte) {
		t.Helper()
		req := newRequest(t, method, s.url(path), body)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, b := doWith(t, tr, req)
		if resp.ProtoMajor != 3 {
			t.Fatalf("%s: protocol %s, want HTTP/3", path, resp.Proto)
		}
		return resp, b
	}

	t.Run("plain route", func(t *testing.T) {
		resp, body := h3(t, "GET", "/users/7?x=1", nil)
		sn := decodeSeen(t, resp.StatusCode, body)
		if sn.Path != "/users/7" || sn.Query != "x=1" {
			t.Errorf("upstream saw %+v", sn)
		}
		if got := sn.Header.Get("X-Forwarded-Proto"); got != "https" {
			t.Errorf("X-Forwarded-Proto %q, want https", got)
		}
	})

	t.Run("jwt route", func(t *testing.T) {
		resp, body := h3(t, "GET", "/jwt/a", nil)
		checkError(t, resp.StatusCode, resp.Header, body, http.StatusUnauthorized)
		tok := signRS256(t, s.key, "k1", "user-7", nil)
		resp, body = h3(t, "GET", "/jwt/a", nil, "Authorization", "Bearer "+tok)
		decodeSeen(t, resp.StatusCode, body)
	})

	t.Run("wasm filter route", func(t *testing.T) {
		resp, body := h3(t, "GET", "/wasm/x", nil)
		if got := decodeSeen(t, resp.StatusCode, body).Header.Get("X-Hello"); got != "over-h3" {
			t.Errorf("upstream saw X-Hello %q, want the plugin's over-h3", got)
		}
	})

	t.Run("streaming", func(t *testing.T) {
		// The first event arrives while the upstream still holds the
		// response open: it is released only once the event is read.
		resp, err := tr.RoundTrip(newRequest(t, "GET", s.url("/app/sse"), nil))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		line, err := br.ReadString('\n')
		if err != nil || line != "data: first\n" {
			t.Fatalf("first event: %q %v", line, err)
		}
		close(s.app.sseRelease)
		rest, err := io.ReadAll(br)
		if err != nil || string(rest) != "\ndata: second\n\n" {
			t.Fatalf("rest of the stream: %q %v", rest, err)
		}
	})

	t.Run("large body", func(t *testing.T) {
		payload := make([]byte, 8<<20)
		rand.Read(payload)
		want := sha256.Sum256(payload)
		resp, body := h3(t, "POST", "/app/echo", bytes.NewReader(payload))
		if got := sha256.Sum256(body); resp.StatusCode != 200 || got != want {
			t.Fatalf("echoed %d bytes (status %d), sha256 %x, want 8 MiB with %x", len(body), resp.StatusCode, got[:8], want[:8])
		}
		resp, body = h3(t, "POST", "/upload", bytes.NewReader(payload))
		sn := decodeSeen(t, resp.StatusCode, body)
		if sn.BodyLen != int64(len(payload)) || sn.BodySHA256 != hex.EncodeToString(want[:]) {
			t.Fatalf("upstream got %d bytes with sha256 %s", sn.BodyLen, sn.BodySHA256)
		}
	})

	t.Run("Alt-Svc on h1 and h2", func(t *testing.T) {
		_, port, _ := net.SplitHostPort(s.g.Listen)
		want := `h3=":` + port + `"; ma=86400`
		for _, h2 := range []bool{false, true} {
			tcp := &http.Transport{TLSClientConfig: s.roots.Clone(), ForceAttemptHTTP2: h2}
			resp, _ := getWith(t, tcp, s.url("/app/x"))
			tcp.CloseIdleConnections()
			if resp.ProtoMajor != map[bool]int{false: 1, true: 2}[h2] {
				t.Fatalf("protocol %s", resp.Proto)
			}
			if got := resp.Header.Values("Alt-Svc"); len(got) != 1 || got[0] != want {
				t.Errorf("%s: Alt-Svc %q, want %q", resp.Proto, got, want)
			}
		}
	})
}

// A loop of HTTP/3 requests across reloads sees no failure: reloads that
// keep the listener's HTTP/3 settings keep its connections; one that
// changes them sends GOAWAY, and the client moves to a new connection on
// the same UDP socket.
func TestHTTP3ReloadKeepsServing(t *testing.T) {
	s := startH3Gateway(t)
	tr := s.transport(t)

	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				path := fmt.Sprintf("/app/w%d/%d", w, i)
				req, _ := http.NewRequest("GET", s.url(path), nil)
				resp, err := tr.RoundTrip(req)
				if err == nil {
					var b []byte
					b, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && (resp.StatusCode != 200 || string(b) != "app "+path) {
						err = fmt.Errorf("%d %q", resp.StatusCode, b)
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				ok.Add(1)
			}
		})
	}
	// progress waits until the loop has done 50 more requests.
	progress := func() {
		t.Helper()
		from := ok.Load()
		if err := poll(20*time.Second, func() error {
			if n := ok.Load() - from; n < 50 {
				return fmt.Errorf("%d requests since the last step", n)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	progress()
	gen := s.g.Status().Generation
	for _, streams := range []string{"100", "50", "50", "100"} {
		s.g.WriteConfig(http3Config, vars{"streams": streams})
		if code, body := s.g.Reload(); code != 200 {
			t.Fatalf("reload: %d %s", code, body)
		}
		gen = s.g.WaitGeneration(gen)
		progress()
	}
	s.g.Signal(syscall.SIGHUP)
	gen = s.g.WaitGeneration(gen)
	progress()
	close(stop)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d requests failed across reloads; first: %v", n, n+ok.Load(), firstErr.Load())
	}
	t.Logf("%d requests over HTTP/3 across 5 reloads, none failed", ok.Load())
}

// On SIGTERM the gateway sends GOAWAY: a request in flight completes, a new
// one on the same connection is not taken, and the process exits 0.
func TestHTTP3DrainOnStop(t *testing.T) {
	s := startH3Gateway(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tlsConf := s.roots.Clone()
	tlsConf.NextProtos = []string{http3.NextProtoH3}
	qc, err := quic.DialAddr(ctx, s.g.Listen, tlsConf, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer qc.CloseWithError(0, "")
	cc := (&http3.Transport{}).NewClientConn(qc)

	type result struct {
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := cc.RoundTrip(newRequest(t, "GET", s.url("/app/slow"), nil))
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- result{string(b), err}
	}()
	select {
	case <-s.app.slowArrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow request never reached the upstream")
	}

	s.g.Signal(syscall.SIGTERM)
	err = poll(10*time.Second, func() error {
		resp, err := cc.RoundTrip(newRequest(t, "GET", s.url("/app/new"), nil))
		if err == nil {
			resp.Body.Close()
			return fmt.Errorf("a new request was served %s after SIGTERM", resp.Status)
		}
		if !strings.Contains(err.Error(), "graceful shutdown") && !strings.Contains(err.Error(), "H3_REQUEST_REJECTED") {
			return gatewaytest.Stop(fmt.Errorf("new request after SIGTERM: %v, want GOAWAY or the stream rejected", err))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !s.g.Running() {
		t.Fatal("the gateway exited with a request in flight")
	}
	close(s.app.slowRelease)
	r := <-done
	if r.err != nil || r.body != "slow done" {
		t.Fatalf("in-flight request: %q %v", r.body, r.err)
	}
	if code := s.g.Wait(30 * time.Second); code != 0 {
		t.Fatalf("exit status %d", code)
	}
}

func TestHTTP3NeedsTLS(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	cfg := "listeners:\n  - address: \"127.0.0.1:0\"\n    http3: true\nroutes:\n  - { name: r, respond: { status: 200 } }\n"
	if err := os.WriteFile(filepath.Join(dir, "h3.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runCLI(t, dir, "validate", "-c", "h3.yaml")
	want := "h3.yaml:3:5: listeners[0].http3: HTTP/3 runs over QUIC, which is always encrypted, and this listener has no tls"
	if code == 0 || !strings.Contains(errOut, want) {
		t.Fatalf("validate exited %d with %q, want an error containing %q", code, errOut, want)
	}
}
