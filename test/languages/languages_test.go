// Package languages_test runs the committed filters written in other languages
// than Go — AssemblyScript with the third-party @solo-io/proxy-runtime SDK, and
// C against the raw ABI — through the real Proxy-Wasm host, filters/wasm,
// unmodified. The AssemblyScript ones are our compatibility proof against code we
// did not write: they import wasi_unstable, export malloc (not
// proxy_on_memory_allocate) and proxy_abi_version_0_2_0, look up their root
// context by the plugin_root_id property, and find it again by the root id the
// host passes to proxy_on_vm_start and proxy_on_configure.
//
// Rebuild the .wasm files with `make plugins` (needs npm for AssemblyScript and
// clang + lld + wasi-libc for C).
package languages_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/wasm"
	"github.com/wasmgate/wasmgate/test/internal/wasmtest"
)

func upstream() *filter.Response {
	return &filter.Response{Status: 200, Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte("ok")}
}

// The README's "Hello, World" of @solo-io/proxy-runtime: the response gets
// "hello: <configuration>".
func TestAssemblyScriptAddHeader(t *testing.T) {
	for _, config := range []string{"what ever you want", `{"json":"too"}`} {
		p := wasmtest.Load(t, "examples/assemblyscript/add-header/add-header.wasm",
			wasm.Options{RootID: "add_header", Config: []byte(config)})
		for range 3 { // instances and their root context are reused across exchanges
			out := wasmtest.Exchange(t, p, wasm.Run{Request: httptest.NewRequest("GET", "http://api.test/", nil), Response: upstream()})
			if out.Local != nil {
				t.Fatalf("unexpected local response %d %s", out.Local.Status, out.Local.Body)
			}
			if got := out.Response.Header.Values("Hello"); len(got) != 1 || got[0] != config {
				t.Fatalf("config %q: hello = %q; headers %v; logs %v", config, got, out.Response.Header, out.Logs)
			}
			if string(out.Response.Body) != "ok" || out.Response.Status != 200 {
				t.Fatalf("response changed: %d %q", out.Response.Status, out.Response.Body)
			}
		}
	}
}

func TestAssemblyScriptAuth(t *testing.T) {
	p := wasmtest.Load(t, "examples/assemblyscript/auth/auth.wasm", wasm.Options{RootID: "auth", Config: []byte("s3cret")})

	for _, token := range []string{"", "wrong", "s3cret-but-longer"} {
		req := httptest.NewRequest("GET", "http://api.test/admin", nil)
		if token != "" {
			req.Header.Set("X-Api-Token", token)
		}
		out := wasmtest.Exchange(t, p, wasm.Run{Request: req, Response: upstream()})
		if out.Local == nil {
			t.Fatalf("token %q passed", token)
		}
		if out.Local.Status != 403 || string(out.Local.Body) != "forbidden: bad or missing x-api-token\n" ||
			out.Local.Header.Get("X-Auth") != "denied" {
			t.Fatalf("token %q: got %d %q %v", token, out.Local.Status, out.Local.Body, out.Local.Header)
		}
	}

	req := httptest.NewRequest("GET", "http://api.test/admin", nil)
	req.Header.Set("X-Api-Token", "s3cret")
	out := wasmtest.Exchange(t, p, wasm.Run{Request: req, Response: upstream()})
	if out.Local != nil {
		t.Fatalf("the right token was refused: %d %q; logs %v", out.Local.Status, out.Local.Body, out.Logs)
	}
	if got := out.Request.Header.Get("X-Auth-User"); got != "token-holder" {
		t.Errorf("x-auth-user = %q", got)
	}
	if got := out.Response.Header.Get("X-Auth"); got != "ok" {
		t.Errorf("response x-auth = %q", got)
	}
}

// With an empty configuration, proxy-runtime 0.1.8's onConfigure calls
// proxy_get_buffer_bytes(7, 0, configuration_size, &global.buffer, configuration_size)
// — its size pointer is the size itself (an SDK bug) — and then decodes
// global.buffer whatever the host did. The reference host (proxy-wasm-cpp-host
// src/exports.cc get_buffer_bytes) returns OK and writes nothing for an empty
// slice, so the guest survives on a stale pointer; a host that zeroes the
// return slots makes it trap in proxy_on_configure and the plugin fails to
// load (wasmgate did, until this test). What the SDK then reads as its
// configuration is whatever the stale block held, so only loading and
// running cleanly is asserted, not the README's "world!".
func TestAssemblyScriptAddHeaderEmptyConfig(t *testing.T) {
	p := wasmtest.Load(t, "examples/assemblyscript/add-header/add-header.wasm", wasm.Options{RootID: "add_header"})
	out := wasmtest.Exchange(t, p, wasm.Run{Request: httptest.NewRequest("GET", "http://api.test/", nil), Response: upstream()})
	if out.Local != nil || out.Response == nil || out.Response.Status != 200 {
		t.Fatalf("exchange with an empty config: local %v, response %v; logs %v", out.Local, out.Response, out.Logs)
	}
}

// The SDK finds its root context by the plugin_root_id property: a root id it
// did not register fails proxy_on_context_create, so the load fails.
func TestAssemblyScriptUnknownRootID(t *testing.T) {
	_, err := wasm.Load(context.Background(), "../../examples/assemblyscript/add-header/add-header.wasm",
		wasm.Options{Name: "add-header", RootID: "not_registered", Config: []byte("x")})
	if err == nil {
		t.Fatal("a root id the module does not register must fail the load")
	}
}

func TestCHeaderFilter(t *testing.T) {
	for _, tc := range []struct{ config, header string }{{"", "X-C-Filter"}, {"x-from-config", "X-From-Config"}} {
		p := wasmtest.Load(t, "examples/c-filter/header_filter.wasm", wasm.Options{Config: []byte(tc.config)})
		for i := range 3 {
			req := httptest.NewRequest("GET", fmt.Sprintf("http://api.test/items/%d?q=1", i), nil)
			req.Header.Set("X-Remove-Me", "1")
			out := wasmtest.Exchange(t, p, wasm.Run{Request: req, Response: upstream()})
			if out.Local != nil {
				t.Fatalf("unexpected local response %d", out.Local.Status)
			}
			if got := out.Request.Header.Get(tc.header); got != "c" {
				t.Errorf("%s = %q; headers %v", tc.header, got, out.Request.Header)
			}
			if _, ok := out.Request.Header["X-Remove-Me"]; ok {
				t.Errorf("x-remove-me kept")
			}
			if got, want := out.Response.Header.Get("X-Request-Path"), fmt.Sprintf("/items/%d?q=1", i); got != want {
				t.Errorf("x-request-path = %q, want %q", got, want)
			}
		}
	}
}

func TestCLocalResponse(t *testing.T) {
	p := wasmtest.Load(t, "examples/c-filter/local_response.wasm", wasm.Options{Config: []byte("/private")})

	out := wasmtest.Exchange(t, p, wasm.Run{Request: httptest.NewRequest("POST", "http://api.test/private/x", nil), Response: upstream()})
	if out.Local == nil {
		t.Fatal("a blocked path reached the upstream")
	}
	if out.Local.Status != 418 || string(out.Local.Body) != "I'm a teapot, and this path is blocked\n" ||
		out.Local.Header.Get("Content-Type") != "text/plain" || out.Local.Header.Get("X-Blocked-By") != "c-filter" {
		t.Fatalf("local response %d %q %v", out.Local.Status, out.Local.Body, out.Local.Header)
	}

	out = wasmtest.Exchange(t, p, wasm.Run{Request: httptest.NewRequest("GET", "http://api.test/public", nil), Response: upstream()})
	if out.Local != nil || out.Request.Header.Get("X-C-Checked") != "yes" || out.Response.Status != 200 {
		t.Fatalf("an allowed path: local %+v, headers %v", out.Local, out.Request.Header)
	}

	if _, err := wasm.Load(context.Background(), "../../examples/c-filter/local_response.wasm",
		wasm.Options{Name: "bad", Config: []byte("no-slash")}); err == nil {
		t.Fatal("a configuration the filter refuses must fail the load")
	}
}
