package wasm

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/core/gateway"
	_ "github.com/wasmgate/wasmgate/observe" // the observability section and its meter
)

// With metrics on, plugin callbacks are counted and timed by plugin and
// phase, and failures by kind.
func TestCallMetrics(t *testing.T) {
	t.Setenv("WASMGATE_CACHE_DIR", filepath.Join(t.TempDir(), "cache"))
	up := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer up.Close()
	abs := func(m string) string { p, _ := filepath.Abs("testdata/" + m + ".wasm"); return p }
	file := filepath.Join(t.TempDir(), "gw.yaml")
	cfg := fmt.Sprintf(`
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "127.0.0.1:0" }
observability: { metrics: { prometheus: true } }
upstreams:
  echo: { targets: [{ url: %q }] }
plugins:
  hello: { source: %q }
  spin: { source: %q, limits: { timeout: 20ms } }
routes:
  - { name: hello, match: { prefix: /hello }, filters: [{ wasm: hello }], upstream: echo }
  - { name: spin, match: { prefix: /spin }, filters: [{ wasm: spin }], upstream: echo }
`, up.URL, abs("lifecycle"), abs("loop_callback"))
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g, err := gateway.Start(gateway.Source{File: file}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = g.Shutdown(t.Context()) }()
	url := "http://" + g.Addrs()["main"].String()
	getHeader(t, url+"/hello", "")
	getHeader(t, url+"/hello", "", "X-Deny", "1")
	if code, _ := getHeader(t, url+"/spin", "", "X-Loop", "1"); code != 503 {
		t.Fatalf("hostile plugin: %d, want 503", code)
	}
	resp, err := http.Get("http://" + g.AdminAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	for _, want := range []string{
		`wasmgate_wasm_calls_total{phase="request",plugin="hello"} 2`,
		`wasmgate_wasm_calls_total{phase="response",plugin="hello"} 1`, // the local 403 skips it
		`wasmgate_wasm_calls_total{phase="done",plugin="hello"} 2`,
		`wasmgate_wasm_calls_total{phase="request",plugin="spin"} 1`,
		`wasmgate_wasm_errors_total{kind="timeout",phase="request",plugin="spin"} 1`,
		`wasmgate_wasm_duration_seconds_count{phase="request",plugin="hello"} 2`,
	} {
		if !strings.Contains(text, want+"\n") {
			var got []string
			for _, l := range strings.Split(text, "\n") {
				if strings.HasPrefix(l, "wasmgate_wasm_") && !strings.Contains(l, "_bucket") {
					got = append(got, l)
				}
			}
			t.Errorf("no %s in\n%s", want, strings.Join(got, "\n"))
		}
	}
}
