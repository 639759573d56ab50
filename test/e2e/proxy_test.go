package e2e

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const proxyConfig = head + `
upstreams:
  a:    { targets: [{ url: "{{.a}}" }] }
  odd:  { targets: [{ url: "{{.odd}}" }] }
  down:
    targets: [{ url: "http://{{.down}}" }]
    timeouts: { connect: 1s }
routes:
  - name: preserve
    match: { path: /preserve }
    preserve_host: true
    upstream: a
  - name: target-host
    match: { path: /target-host }
    upstream: a
  - name: down
    match: { path: /down }
    upstream: down
  - name: slow
    match: { path: /odd/slow }
    timeouts: { request: 200ms }
    upstream: odd
  - name: odd
    match: { prefix: /odd }
    upstream: odd
`

// oddUpstream answers what echo cannot: hop-by-hop response headers, no
// content, and slowness.
func oddUpstream(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/odd/hop":
			w.Header().Set("Connection", "X-Hop")
			w.Header().Set("X-Hop", "connection-specific")
			w.Header().Set("Keep-Alive", "timeout=5")
			w.Header().Set("X-End", "kept")
			_, _ = w.Write([]byte("hop"))
		case "/odd/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/odd/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		default:
			w.Header().Set("Content-Length", "5")
			_, _ = w.Write([]byte("hello"))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestProxy(t *testing.T) {
	needBinary(t)
	a, odd := newEcho(t, "a"), oddUpstream(t)
	g := startGateway(t, proxyConfig, vars{
		"a": a.URL, "odd": odd.URL,
		"down": "127.0.0.1:1", // tcpmux: nothing listens there, the connection is refused
	})
	target := strings.TrimPrefix(a.URL, "http://")

	t.Run("Host", func(t *testing.T) {
		for path, want := range map[string]string{"/preserve": "client.example", "/target-host": target} {
			req := newRequest(t, http.MethodGet, g.URL(path), nil)
			req.Host = "client.example"
			resp, body := g.Do(req)
			if got := decodeSeen(t, resp.StatusCode, body).Host; got != want {
				t.Errorf("%s: upstream saw Host %q, want %q", path, got, want)
			}
		}
	})

	t.Run("hop-by-hop response headers", func(t *testing.T) {
		resp, body := g.Get("/odd/hop")
		if string(body) != "hop" || resp.Header.Get("X-End") != "kept" {
			t.Fatalf("%d %q %v", resp.StatusCode, body, resp.Header)
		}
		for _, k := range []string{"X-Hop", "Keep-Alive"} {
			if v := resp.Header.Values(k); len(v) > 0 {
				t.Errorf("client got hop-by-hop %s: %q", k, v)
			}
		}
	})

	t.Run("HEAD and 204", func(t *testing.T) {
		resp, body := g.Do(newRequest(t, http.MethodHead, g.URL("/odd/x"), nil))
		if resp.StatusCode != http.StatusOK || len(body) != 0 || resp.ContentLength != 5 {
			t.Errorf("HEAD: %d, %d body bytes, Content-Length %d; want 200, none, 5", resp.StatusCode, len(body), resp.ContentLength)
		}
		resp, body = g.Get("/odd/empty")
		if resp.StatusCode != http.StatusNoContent || len(body) != 0 {
			t.Errorf("204: got %d with %d bytes", resp.StatusCode, len(body))
		}
	})

	t.Run("query kept byte for byte", func(t *testing.T) {
		raw := "a=1&b=%2F%20x&a=2&empty=&plus=a+b"
		resp, body := g.Get("/target-host?" + raw)
		if got := decodeSeen(t, resp.StatusCode, body).Query; got != raw {
			t.Errorf("upstream saw query %q, want %q", got, raw)
		}
	})

	t.Run("Expect 100-continue", func(t *testing.T) {
		req := newRequest(t, http.MethodPost, g.URL("/target-host"), strings.NewReader("continued body"))
		req.Header.Set("Expect", "100-continue")
		resp, body := g.Do(req)
		if s := decodeSeen(t, resp.StatusCode, body); s.Body != "continued body" {
			t.Errorf("upstream got body %q", s.Body)
		}
	})

	errorsCases := []struct {
		path   string
		status int
	}{
		{"/down", http.StatusBadGateway},
		{"/odd/slow", http.StatusGatewayTimeout},
	}
	for _, tt := range errorsCases {
		t.Run("error "+tt.path, func(t *testing.T) {
			resp, body := g.Get(tt.path)
			e := checkError(t, resp.StatusCode, resp.Header, body, tt.status)
			if strings.Contains(e.Error, "127.0.0.1") || strings.Contains(e.Error, "dial") {
				t.Errorf("error %q leaks upstream details", e.Error)
			}
		})
	}

	t.Run("websocket refused without route flag", func(t *testing.T) {
		resp := rawRequest(t, g.Listen, upgradeRequest("/odd/x", g.Listen))
		if resp.Status == http.StatusSwitchingProtocols {
			t.Errorf("upgrade switched on a route without websocket")
		}
	})
}
