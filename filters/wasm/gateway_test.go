package wasm

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
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

// Callouts go through the gateway's own upstream: the requests a plugin
// makes show on the same targets (and health, pools and breaker) as the
// routes', and after a reload that keeps the plugin they still do.
func TestCalloutsShareTheGatewaysUpstream(t *testing.T) {
	t.Setenv("WASMGATE_CACHE_DIR", filepath.Join(t.TempDir(), "cache"))
	var tokens atomic.Int64
	tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tokens.Add(1)
		_, _ = w.Write([]byte("tok"))
	}))
	defer tokenSrv.Close()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-Token", r.Header.Get("X-Token"))
	}))
	defer up.Close()
	module, _ := filepath.Abs("testdata/callout.wasm")
	file := filepath.Join(t.TempDir(), "gw.yaml")
	write := func(tag string) {
		cfg := fmt.Sprintf(`
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
upstreams:
  echo: { targets: [{ url: %q }] }
  backend: { targets: [{ url: %q }] }
plugins:
  tok: { source: %q, callouts: [backend] }
routes:
  - name: tok
    match: { prefix: /tok }
    filters: [{ wasm: tok }]
    max_request_body: %s
    upstream: echo
`, up.URL, tokenSrv.URL, module, tag)
		if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("1MiB")
	g, err := gateway.Start(gateway.Source{File: file}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = g.Shutdown(t.Context()) }()
	url := "http://" + g.Addrs()["main"].String() + "/tok"
	backendRequests := func() uint64 {
		for _, u := range g.Upstreams() {
			if u.Name == "backend" {
				return u.Targets[0].Requests
			}
		}
		t.Fatal("no upstream backend")
		return 0
	}

	for range 3 {
		if code, seen := getHeader(t, url, "X-Seen-Token"); code != 200 || seen != "tok" {
			t.Fatalf("got %d, upstream saw X-Token %q; want 200 and the callout's token", code, seen)
		}
	}
	if n := backendRequests(); n != 3 || tokens.Load() != 3 {
		t.Errorf("the gateway's backend counted %d requests, the token server saw %d; want 3 and 3 (one upstream object)", n, tokens.Load())
	}

	write("2MiB") // the plugin and the backend upstream are unchanged: both carried over
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if code, seen := getHeader(t, url, "X-Seen-Token"); code != 200 || seen != "tok" {
			t.Fatalf("after reload: got %d, X-Token %q", code, seen)
		}
	}
	if n := backendRequests(); n != 5 || tokens.Load() != 5 {
		t.Errorf("after reload the gateway's backend counted %d requests, the token server saw %d; want 5 and 5", n, tokens.Load())
	}
}

// A rebuilt module, renamed into place as a build or deploy does, is picked
// up by the config watch like an edit of the config: the new module is
// compiled and serves, the config file untouched.
func TestWatchPicksUpARebuiltModule(t *testing.T) {
	t.Setenv("WASMGATE_CACHE_DIR", filepath.Join(t.TempDir(), "cache"))
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-Wasm", r.Header.Get("X-Wasm"))
	}))
	defer up.Close()
	dir := t.TempDir()
	module := filepath.Join(dir, "build", "filter.wasm")
	install := func(from string) {
		t.Helper()
		code, err := os.ReadFile("testdata/" + from + ".wasm")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(module), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(module+".tmp", code, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(module+".tmp", module); err != nil {
			t.Fatal(err)
		}
	}
	install("lifecycle") // X-Wasm: hello
	file := filepath.Join(dir, "gw.yaml")
	gatewayConfig(t, file, up.URL, fmt.Sprintf(`
  filter: { source: %q }`, module), `
  - { name: r, match: { prefix: / }, filters: [{ wasm: filter }], upstream: echo }`)
	g, err := gateway.Start(gateway.Source{File: file}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = g.Shutdown(t.Context()) }()
	if err := g.WatchConfig(t.Context()); err != nil {
		t.Fatal(err)
	}
	url := "http://" + g.Addrs()["main"].String()
	if _, seen := getHeader(t, url+"/", "X-Seen-Wasm"); seen != "hello" {
		t.Fatalf("before the rebuild the upstream saw X-Wasm %q, want hello", seen)
	}
	loads := loadedPlugins.Load()
	install("minimal") // X-Wasm: 1
	deadline := time.Now().Add(15 * time.Second)
	for g.Current().Generation < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no reload within 15s of the module being replaced")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := loadedPlugins.Load() - loads; n != 1 {
		t.Errorf("%d plugin loads after the rebuild, want 1 (the new module)", n)
	}
	if _, seen := getHeader(t, url+"/", "X-Seen-Wasm"); seen != "1" {
		t.Errorf("after the rebuild the upstream saw X-Wasm %q, want 1 (the new module's)", seen)
	}
}

// countLines is a slog handler counting the records whose message is msg.
type countLines struct {
	msg string
	n   *atomic.Int64
}

func (c countLines) Enabled(context.Context, slog.Level) bool { return true }
func (c countLines) Handle(_ context.Context, r slog.Record) error {
	if r.Message == c.msg {
		c.n.Add(1)
	}
	return nil
}
func (c countLines) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c countLines) WithGroup(string) slog.Handler      { return c }

// A reload that changes only other routes keeps the plugin's compiled
// module and its warm instances: proxy_on_vm_start (which lifecycle.wat
// logs as "vm_start") runs once per instance, at the first load, and not
// again after the reload; the plugin keeps serving.
func TestReloadOfOtherRoutesKeepsInstances(t *testing.T) {
	t.Setenv("WASMGATE_CACHE_DIR", filepath.Join(t.TempDir(), "cache"))
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-Wasm", r.Header.Get("X-Wasm"))
	}))
	defer up.Close()
	src, _ := filepath.Abs("testdata/lifecycle.wasm")
	file := filepath.Join(t.TempDir(), "gw.yaml")
	plugins := fmt.Sprintf(`
  hello: { source: %q, config: { k: v }, limits: { instances: 2 } }`, src)
	gatewayConfig(t, file, up.URL, plugins, `
  - { name: hello, match: { prefix: /hello }, filters: [{ wasm: hello }], upstream: echo }
  - { name: other, match: { prefix: /other }, upstream: echo }`)
	var starts atomic.Int64
	g, err := gateway.Start(gateway.Source{File: file}, slog.New(countLines{msg: "vm_start", n: &starts}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = g.Shutdown(t.Context()) }()
	url := "http://" + g.Addrs()["main"].String()
	if n := starts.Load(); n != 2 {
		t.Fatalf("proxy_on_vm_start ran %d times at load, want 2 (one per instance)", n)
	}
	loads := loadedPlugins.Load()

	// Another route changes (its prefix and body limit) and a route is added;
	// the plugin's entry and module stay as they were.
	gatewayConfig(t, file, up.URL, plugins, `
  - { name: other, match: { prefix: /elsewhere }, upstream: echo, max_request_body: 7KiB }
  - { name: hello, match: { prefix: /hello }, filters: [{ wasm: hello }], upstream: echo }
  - { name: third, match: { prefix: /third }, upstream: echo }`)
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	if n := loadedPlugins.Load() - loads; n != 0 {
		t.Errorf("the plugin was loaded again (%d loads) by a reload that did not change it", n)
	}
	if n := starts.Load(); n != 2 {
		t.Errorf("proxy_on_vm_start ran %d times after the reload, want still 2", n)
	}
	if code, seen := getHeader(t, url+"/hello", "X-Seen-Wasm"); code != 200 || seen != "hello" {
		t.Errorf("after reload: %d %q", code, seen)
	}
}

// A reload that changes only the plugin's config: keeps the compiled
// module and its instances, as Envoy keeps a VM whose code and vm_config
// are unchanged, and creates a root context for the new config in them.
// The guest (reconfig.wat) proves it from inside: the instance's request
// counter goes on from where it was (same linear memory), vm_start does
// not run again, and streams now see the new config through their root.
// Without the root contexts, the reload loads the module again: the
// counter restarts at 1.
func TestReloadOfConfigOnlyKeepsInstances(t *testing.T) {
	t.Setenv("WASMGATE_CACHE_DIR", filepath.Join(t.TempDir(), "cache"))
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-Config", r.Header.Get("X-Config"))
		w.Header().Set("X-Seen-Count", r.Header.Get("X-Count"))
	}))
	defer up.Close()
	src, _ := filepath.Abs("testdata/reconfig.wasm")
	file := filepath.Join(t.TempDir(), "gw.yaml")
	routes := `
  - { name: r, match: { prefix: /r }, filters: [{ wasm: reconfig }], upstream: echo }`
	withConfig := func(cfg string) string {
		return fmt.Sprintf(`
  reconfig: { source: %q, config: %q, limits: { instances: 1 } }`, src, cfg)
	}
	gatewayConfig(t, file, up.URL, withConfig("one"), routes)
	var starts atomic.Int64
	g, err := gateway.Start(gateway.Source{File: file}, slog.New(countLines{msg: "vm_start", n: &starts}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = g.Shutdown(t.Context()) }()
	url := "http://" + g.Addrs()["main"].String() + "/r"
	get := func() (cfg, count string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		return resp.Header.Get("X-Seen-Config"), resp.Header.Get("X-Seen-Count")
	}
	for i, want := range []string{"1", "2"} {
		if cfg, count := get(); cfg != "one" || count != want {
			t.Fatalf("request %d before the reload: config %q, count %q; want one, %s", i+1, cfg, count, want)
		}
	}
	loads, open := loadedPlugins.Load(), OpenPlugins()

	gatewayConfig(t, file, up.URL, withConfig("two"), routes)
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	if cfg, count := get(); cfg != "two" || count != "3" {
		t.Errorf("after the config-only reload: config %q, count %q; want two, 3 (the same instance, the new config)", cfg, count)
	}
	if n := loadedPlugins.Load() - loads; n != 0 {
		t.Errorf("the module was loaded again (%d loads) for a change of config: only", n)
	}
	if n := OpenPlugins(); n != open {
		t.Errorf("%d plugins open after the reload, want %d", n, open)
	}
	if n := starts.Load(); n != 1 {
		t.Errorf("proxy_on_vm_start ran %d times, want once (at the first load)", n)
	}

	// A config the guest rejects fails the reload; the running one serves on.
	gatewayConfig(t, file, up.URL, withConfig("!bad"), routes)
	if err := g.Reload(); err == nil || !strings.Contains(err.Error(), "rejected its config") {
		t.Errorf("reload with a config the guest rejects: %v; want the plugin's rejection", err)
	}
	if cfg, count := get(); cfg != "two" || count != "4" {
		t.Errorf("after the refused reload: config %q, count %q; want two, 4", cfg, count)
	}

	// And back: the retired first root is not reused; a third root serves.
	gatewayConfig(t, file, up.URL, withConfig("one"), routes)
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	if cfg, count := get(); cfg != "one" || count != "5" {
		t.Errorf("after reloading the first config again: config %q, count %q; want one, 5", cfg, count)
	}
}

// http-wasm response buffering per exchange (hw_stream.wat): the exchange
// that enables buffer_response in handle_request gets its whole body in
// handle_response, and edits it; the others stream. The upstream sends a
// first chunk and then waits for the client to have it: an exchange that
// did not ask must deliver that chunk while the upstream still waits (a
// gateway buffering it would only deliver at the upstream's safety bound).
func TestHTTPWasmBuffersOnlyTheExchangesThatAsk(t *testing.T) {
	t.Setenv("WASMGATE_CACHE_DIR", filepath.Join(t.TempDir(), "cache"))
	got := make(chan struct{}, 1)
	var waitedOut atomic.Bool
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first-")
		w.(http.Flusher).Flush()
		if r.Header.Get("X-Buffer") == "" {
			select {
			case <-got:
			case <-time.After(20 * time.Second): // a bound, not a synchronization
				waitedOut.Store(true)
			}
		}
		_, _ = io.WriteString(w, "second")
	}))
	defer up.Close()
	src, _ := filepath.Abs("testdata/hw_stream.wasm")
	file := filepath.Join(t.TempDir(), "gw.yaml")
	gatewayConfig(t, file, up.URL, fmt.Sprintf(`
  hw: { source: %q }`, src), `
  - { name: s, match: { prefix: /s }, filters: [{ wasm: hw }], upstream: echo }`)
	g, err := gateway.Start(gateway.Source{File: file}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = g.Shutdown(t.Context()) }()
	url := "http://" + g.Addrs()["main"].String() + "/s"

	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("X-Buffer", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if string(body) != "<first-second>" || resp.Header.Get("X-Buffered") != "1" || resp.Header.Get("X-Seen") != "1" {
		t.Errorf("buffered exchange: %q, headers %v; want <first-second> with x-buffered and x-seen", body, resp.Header)
	}

	resp, err = http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, len("first-"))
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	got <- struct{}{}
	rest, _ := io.ReadAll(resp.Body)
	if waitedOut.Load() {
		t.Error("the first chunk of an exchange that did not ask for buffering reached the client only after the upstream finished: it was buffered")
	}
	if b := string(first) + string(rest); b != "first-second" || resp.Header.Get("X-Buffered") != "" || resp.Header.Get("X-Seen") != "1" {
		t.Errorf("streamed exchange: %q, headers %v; want first-second, x-seen only", b, resp.Header)
	}
}
