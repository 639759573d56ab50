package gateway

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkProxy measures one proxied GET with a 1 KiB response through the
// gateway on loopback, against the same request straight to the upstream in
// the same run (Direct): the difference is what the gateway costs.
// GatewayStdEngine is the plain route over net/http's http.Transport
// (engine: std) instead of the native HTTP/1.1 client.
func BenchmarkProxy(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 1024)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(body)
	}))
	defer up.Close()

	file := filepath.Join(b.TempDir(), "gw.yaml")
	cfg := `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
upstreams:
  u: { targets: [{ url: "` + up.URL + `" }] }
  std: { targets: [{ url: "` + up.URL + `" }], engine: std }
routes:
  - { name: plain, match: { path: "/plain" }, upstream: u }
  - { name: std, match: { path: "/std" }, upstream: std }
  - name: param
    match: { path: "/users/{id}" }
    filters:
      - headers: { request: { set: { X-User: "{id}" } }, response: { set: { X-Gw: "1" } } }
    rewrite: { path: "/v2/users/{id}" }
    upstream: u
`
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	g, err := Start(Source{File: file}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer g.Shutdown(b.Context())
	gw := "http://" + g.Addrs()["main"].String()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	run := func(b *testing.B, url string) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				resp, err := client.Get(url)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		})
	}
	b.Run("Direct", func(b *testing.B) { run(b, up.URL+"/plain") })
	b.Run("Gateway", func(b *testing.B) { run(b, gw+"/plain") })
	b.Run("GatewayStdEngine", func(b *testing.B) { run(b, gw+"/std") })
	b.Run("GatewayParamHeaders", func(b *testing.B) { run(b, gw+"/users/42") })
}
