package wasm

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/gateway"
)

func gatewayConfig(t *testing.T, file, upstream, plugins, routes string) {
	t.Helper()
	cfg := fmt.Sprintf(`
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
upstreams:
  echo: { targets: [{ url: %q }] }
plugins:
%s
routes:
%s
`, upstream, plugins, routes)
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

func getHeader(t *testing.T, url, header string, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get(header)
}

// Through the real gateway: the upstream sees the header the plugin adds,
// a hostile plugin on another route fails closed without touching the
// first, and a reload keeps unchanged plugins and closes removed ones.
func TestThroughGatewayAndReload(t *testing.T) {
	t.Setenv("WASMGATE_CACHE_DIR", filepath.Join(t.TempDir(), "cache"))
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-Wasm", r.Header.Get("X-Wasm"))
	}))
	defer up.Close()
	abs := func(m string) string { p, _ := filepath.Abs("testdata/" + m + ".wasm"); return p }
	file := filepath.Join(t.TempDir(), "gw.yaml")
	base := openPlugins.Load()

	plugins := fmt.Sprintf(`
  hello: { source: %q, config: { k: v } }
  spin: { source: %q, limits: { timeout: 20ms } }`, abs("lifecycle"), abs("loop_callback"))
	routes := `
  - { name: hello, match: { prefix: /hello }, filters: [{ wasm: hello }], upstream: echo }
  - { name: spin, match: { prefix: /spin }, filters: [{ wasm: { plugin: spin } }], upstream: echo }`
	gatewayConfig(t, file, up.URL, plugins, routes)
	g, err := gateway.Start(gateway.Source{File: file}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = g.Shutdown(t.Context()) }()
	url := "http://" + g.Addrs()["main"].String()

	if code, seen := getHeader(t, url+"/hello", "X-Seen-Wasm"); code != 200 || seen != "hello" {
		t.Fatalf("upstream saw X-Wasm %q (status %d)", seen, code)
	}
	if code, _ := getHeader(t, url+"/hello", "", "X-Deny", "1"); code != 403 {
		t.Errorf("local response: %d", code)
	}
	if code, _ := getHeader(t, url+"/spin", "", "X-Loop", "1"); code != 503 {
		t.Errorf("hostile plugin: %d, want 503", code)
	}
	if code, seen := getHeader(t, url+"/hello", "X-Seen-Wasm"); code != 200 || seen != "hello" {
		t.Errorf("after the hostile plugin failed: %d %q", code, seen)
	}
	if n := openPlugins.Load() - base; n != 2 {
		t.Fatalf("%d plugins open, want 2", n)
	}

	// Drop spin, keep hello unchanged: hello is not reloaded, spin is closed.
	loadsBefore := loadedPlugins.Load()
	gatewayConfig(t, file, up.URL, fmt.Sprintf(`
  hello: { source: %q, config: { k: v } }`, abs("lifecycle")), `
  - { name: hello, match: { prefix: /hello }, filters: [{ wasm: hello }], upstream: echo }`)
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	waitOpen(t, base+1)
	if n := loadedPlugins.Load() - loadsBefore; n != 0 {
		t.Errorf("the unchanged plugin was loaded again (%d loads)", n)
	}
	if code, seen := getHeader(t, url+"/hello", "X-Seen-Wasm"); code != 200 || seen != "hello" {
		t.Errorf("after reload: %d %q", code, seen)
	}

	// Reloads that change hello's config each time never leave more than one open.
	for i := 0; i < 20; i++ {
		gatewayConfig(t, file, up.URL, fmt.Sprintf(`
  hello: { source: %q, config: { k: v%d } }`, abs("lifecycle"), i), `
  - { name: hello, match: { prefix: /hello }, filters: [{ wasm: hello }], upstream: echo }`)
		if err := g.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	waitOpen(t, base+1)
}

func waitOpen(t *testing.T, want int64) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for openPlugins.Load() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%d plugins open, want %d", openPlugins.Load(), want)
		}
		time.Sleep(10 * time.Millisecond) // poll interval; the open count is what is waited for
	}
}
