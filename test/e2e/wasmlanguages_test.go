package e2e

import (
	"net/http"
	"path/filepath"
	"testing"
)

const wasmLanguagesConfig = head + `
plugins:
  go:   { source: "{{.go}}", config: "hi" }
  as:   { source: "{{.as_add}}", root_id: add_header, config: "from-as" }
  as-auth: { source: "{{.as_auth}}", root_id: auth, config: "tok-123" }
  c:    { source: "{{.c}}" }
  c-local: { source: "{{.c_local}}" }
  wat:  { source: "{{.wat}}" }
  hw:   { source: "{{.hw}}" }
upstreams:
  echo: { targets: [{ url: "{{.echo}}" }] }
routes:
  - { name: go,      match: { prefix: /go },      filters: [{ wasm: go }],      upstream: echo }
  - { name: as,      match: { prefix: /as/ },     filters: [{ wasm: as }],      upstream: echo }
  - { name: as-auth, match: { prefix: /as-auth }, filters: [{ wasm: as-auth }], upstream: echo }
  - { name: c,       match: { prefix: /c/ },      filters: [{ wasm: c }],       upstream: echo }
  - { name: c-local, match: { prefix: /c-local }, filters: [{ wasm: c-local }], upstream: echo }
  - { name: wat,     match: { prefix: /wat },     filters: [{ wasm: wat }],     upstream: echo }
  - { name: hw,      match: { prefix: /hw },      filters: [{ wasm: hw }],      upstream: echo }
`

// Wasm filters written in each language, as committed, through the real
// binary: Go (the SDK), AssemblyScript (proxy-runtime), C and WAT against
// the raw Proxy-Wasm ABI, and an http-wasm guest. Each leaves its mark on
// what the upstream or the client sees; local responses never reach the
// upstream.
func TestWasmGuestsEachLanguage(t *testing.T) {
	needBinary(t)
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	echo := newEcho(t, "echo")
	g := startGateway(t, wasmLanguagesConfig, vars{
		"echo":    echo.URL,
		"go":      abs("../../examples/go-filter/go-filter.wasm"),
		"as_add":  abs("../../examples/assemblyscript/add-header/add-header.wasm"),
		"as_auth": abs("../../examples/assemblyscript/auth/auth.wasm"),
		"c":       abs("../../examples/c-filter/header_filter.wasm"),
		"c_local": abs("../../examples/c-filter/local_response.wasm"),
		"wat":     abs("../../examples/wat-filter/add-header.wasm"),
		"hw":      abs("../../filters/wasm/testdata/hw_header.wasm"),
	})
	do := func(path string, hdr ...string) (*http.Response, []byte) {
		t.Helper()
		req := newRequest(t, http.MethodGet, g.URL(path), nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Add(hdr[i], hdr[i+1])
		}
		return g.Do(req)
	}
	var forwarded int64

	t.Run("go", func(t *testing.T) {
		resp, body := do("/go/x", "X-Tenant", "acme")
		forwarded++
		if s := decodeSeen(t, resp.StatusCode, body); s.Header.Get("X-Greeting") != "hi, acme" || resp.Header.Get("X-Served-For") != "acme" {
			t.Errorf("upstream X-Greeting %q, response X-Served-For %q; want \"hi, acme\" and acme", s.Header.Get("X-Greeting"), resp.Header.Get("X-Served-For"))
		}
		resp, body = do("/go/x")
		checkError(t, resp.StatusCode, resp.Header, body, http.StatusBadRequest)
	})
	t.Run("assemblyscript", func(t *testing.T) {
		resp, body := do("/as/x")
		forwarded++
		decodeSeen(t, resp.StatusCode, body)
		if h := resp.Header.Get("Hello"); h != "from-as" {
			t.Errorf("response header hello %q, want from-as", h)
		}
		resp, body = do("/as-auth/x", "X-Api-Token", "tok-123")
		forwarded++
		if s := decodeSeen(t, resp.StatusCode, body); s.Header.Get("X-Auth-User") == "" || resp.Header.Get("X-Auth") != "ok" {
			t.Errorf("upstream X-Auth-User %q, response X-Auth %q; want set and ok", s.Header.Get("X-Auth-User"), resp.Header.Get("X-Auth"))
		}
		if resp, _ := do("/as-auth/x", "X-Api-Token", "wrong"); resp.StatusCode != http.StatusForbidden {
			t.Errorf("wrong token: %d, want 403", resp.StatusCode)
		}
	})
	t.Run("c", func(t *testing.T) {
		resp, body := do("/c/x", "X-Remove-Me", "1")
		forwarded++
		s := decodeSeen(t, resp.StatusCode, body)
		if s.Header.Get("X-C-Filter") != "c" || s.Header.Get("X-Remove-Me") != "" || resp.Header.Get("X-Request-Path") != "/c/x" {
			t.Errorf("upstream X-C-Filter %q X-Remove-Me %q, response X-Request-Path %q; want c, removed, /c/x",
				s.Header.Get("X-C-Filter"), s.Header.Get("X-Remove-Me"), resp.Header.Get("X-Request-Path"))
		}
		// local_response's default prefix is /blocked: this route's paths
		// are not, so they pass checked.
		resp, body = do("/c-local/x")
		forwarded++
		if s := decodeSeen(t, resp.StatusCode, body); s.Header.Get("X-C-Checked") != "yes" {
			t.Errorf("upstream X-C-Checked %q, want yes", s.Header.Get("X-C-Checked"))
		}
	})
	t.Run("wat", func(t *testing.T) {
		resp, body := do("/wat/x")
		forwarded++
		if s := decodeSeen(t, resp.StatusCode, body); s.Header.Get("X-Wat-Filter") != "hello" {
			t.Errorf("upstream X-Wat-Filter %q, want hello", s.Header.Get("X-Wat-Filter"))
		}
	})
	t.Run("http-wasm", func(t *testing.T) {
		resp, body := do("/hw/x")
		forwarded++
		if s := decodeSeen(t, resp.StatusCode, body); s.Header.Get("X-Wasm") != "1" {
			t.Errorf("upstream X-Wasm %q, want 1", s.Header.Get("X-Wasm"))
		}
	})
	if n := echo.hits.Load(); n != forwarded {
		t.Errorf("the upstream got %d requests, want %d: local responses must not reach it", n, forwarded)
	}
}
