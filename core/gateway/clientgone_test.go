package gateway

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestClientGoneCancelsUpstream: a client that closes its connection while
// the gateway waits for the upstream cancels the upstream request, on each
// server engine, with a request body read to its end and without a body.
func TestClientGoneCancelsUpstream(t *testing.T) {
	// Each request has its own path and signals, so that a request of an
	// earlier case cannot stand in for the current one.
	type signals struct{ entered, cancelled chan struct{} }
	var mu sync.Mutex
	byPath := map[string]signals{}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		sig, ok := byPath[r.URL.Path]
		mu.Unlock()
		if !ok {
			return
		}
		select {
		case sig.entered <- struct{}{}:
		default:
		}
		select {
		case <-r.Context().Done():
			select {
			case sig.cancelled <- struct{}{}:
			default:
			}
		case <-time.After(2 * time.Minute):
		}
	}))
	defer up.Close()

	for _, engine := range []string{"native", "std"} {
		t.Run(engine, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "gw.yaml")
			cfg := `
listeners: [{ name: main, address: "127.0.0.1:0", engine: ` + engine + ` }]
admin: { address: "off" }
upstreams:
  u: { targets: [{ url: "` + up.URL + `" }], timeouts: { response_header: 30s } }
routes:
  - { name: r, upstream: u }
`
			if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			g, err := Start(Source{File: file}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer g.Shutdown(t.Context())
			addr := g.Addrs()["main"].String()
			for i, raw := range []string{
				"GET /slow-%s-%d HTTP/1.1\r\nHost: a\r\n\r\n",
				"POST /slow-%s-%d HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
			} {
				path := fmt.Sprintf("/slow-%s-%d", engine, i)
				raw = fmt.Sprintf(raw, engine, i)
				sig := signals{make(chan struct{}, 1), make(chan struct{}, 1)}
				mu.Lock()
				byPath[path] = sig
				mu.Unlock()
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.WriteString(c, raw); err != nil {
					t.Fatal(err)
				}
				select {
				case <-sig.entered:
				case <-time.After(time.Minute):
					t.Fatal("request did not reach the upstream")
				}
				c.Close()
				select {
				case <-sig.cancelled:
				case <-time.After(time.Minute):
					t.Fatalf("%q: the upstream request was not cancelled when the client left", raw)
				}
			}
		})
	}
}
