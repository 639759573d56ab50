package wasm

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/gateway"
)

// A plugin's own problem (its module missing or not compiling, its config
// refused) is reported once, at its plugins: entry, where it is fixed, not
// at the "- wasm:" line of every route naming it.
func TestPluginErrorsPointAtPluginsEntry(t *testing.T) {
	t.Setenv("WASMGATE_CACHE_DIR", filepath.Join(t.TempDir(), "cache"))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "garbage.wasm"), []byte("not a wasm module"), 0o600); err != nil {
		t.Fatal(err)
	}
	jsonValidate, _ := filepath.Abs("../../plugins/json-validate/json-validate.wasm")
	for _, tt := range []struct {
		name, plugin string
		field        string
		line         int
		msg          string
	}{
		{"missing module", "source: missing.wasm", "plugins.p.source", 7, "no such file"},
		{"module does not compile", "source: garbage.wasm", "plugins.p", 6, "plugin p"},
		{"config refused", "source: " + jsonValidate + "\n    config: {schema: {type: nope}}", "plugins.p", 6, "proxy_on_configure returned false"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(dir, "gw.yaml")
			src := `listeners: [{address: "127.0.0.1:0"}]
admin: {address: "off"}
upstreams:
  u: {targets: [{url: "http://127.0.0.1:9"}]}
plugins:
  p:
    ` + tt.plugin + `
routes:
  - {name: a, upstream: u, filters: [{wasm: p}]}
  - {name: b, upstream: u, filters: [{wasm: p}]}
`
			if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := gateway.Check(gateway.Source{File: file}, slog.New(slog.DiscardHandler))
			var errs config.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("want config errors, got %v", err)
			}
			if len(errs) != 1 {
				t.Fatalf("want one error, got %d:\n%v", len(errs), errs)
			}
			e := errs[0]
			if e.Field != tt.field || e.Line != tt.line || !strings.Contains(e.Msg, tt.msg) {
				t.Fatalf("got %v\nwant at %s:%d (%s), saying %q", e, file, tt.line, tt.field, tt.msg)
			}
		})
	}
}

// A misspelt plugin name gets the declared ones and the nearest.
func TestUnknownPluginDidYouMean(t *testing.T) {
	file := filepath.Join(t.TempDir(), "gw.yaml")
	jsonValidate, _ := filepath.Abs("../../plugins/json-validate/json-validate.wasm")
	src := `listeners: [{address: "127.0.0.1:0"}]
admin: {address: "off"}
upstreams:
  u: {targets: [{url: "http://127.0.0.1:9"}]}
plugins:
  order-check: {source: ` + jsonValidate + `}
routes:
  - {name: a, upstream: u, filters: [{wasm: order-chek}]}
`
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := gateway.Check(gateway.Source{File: file}, slog.New(slog.DiscardHandler))
	want := `gw.yaml:8:39: routes[0].filters[0].wasm: unknown plugin "order-chek"; valid plugins: order-check; did you mean "order-check"?`
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Fatalf("got %v\nwant …%s", err, want)
	}
}
