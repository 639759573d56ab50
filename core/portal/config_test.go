package portal

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/core/config"
)

func TestConfigErrorsNameFileLineAndField(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("openapi: 3.1.0\ninfo:\n  version: '1'\npaths: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "gw.yaml")
	cfg := `listeners:
  - { name: a, address: "127.0.0.1:0" }
  - { name: b, address: "127.0.0.1:0" }
portal: { listener: c, prefix: docs/ }
routes:
  - name: one
    docs: { file: missing.yaml }
    respond: {}
  - name: two
    docs: { file: broken.yaml, name: "two words" }
    respond: {}
  - name: three
    docs: { name: three }
    respond: {}
`
	_, err := config.Parse(file, []byte(cfg))
	if err == nil {
		t.Fatal("a config with bad docs and portal blocks loaded")
	}
	for _, want := range []string{
		`gw.yaml:4:11: portal.listener: no listener is named "c"; listeners: a, b`,
		`gw.yaml:4:24: portal.prefix: "docs/": want a plain absolute path`,
		`gw.yaml:7:13: routes[0].docs.file: cannot read the OpenAPI document: open ` + filepath.Join(dir, "missing.yaml") + `: no such file or directory`,
		`gw.yaml:10:13: routes[1].docs.file: ` + filepath.Join(dir, "broken.yaml") + `:2: info.title is missing`,
		`gw.yaml:10:32: routes[1].docs.name: "two words": a name is 1 to 64 letters`,
		`gw.yaml:13:5: routes[2].docs.file: say which OpenAPI 3.0/3.1 document the route publishes`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack\n  %s\ngot:\n%v", want, err)
		}
	}
}

func TestConfigPortalOnOnlyWhenWritten(t *testing.T) {
	for cfg, on := range map[string]bool{
		"":                                     false,
		"portal: {}\n":                         true,
		"portal: { enabled: false }\n":         false,
		"portal: { title: Acme, prefix: / }\n": true,
	} {
		c, err := config.Parse("gw.yaml", []byte(`listeners: [{ address: "127.0.0.1:0" }]
routes: [{ name: r, respond: {} }]
`+cfg))
		if err != nil {
			t.Fatalf("%q: %v", cfg, err)
		}
		pc := config.Section[Config](c, "portal")
		if pc.On() != on {
			t.Errorf("%q: on %v, want %v", cfg, pc.On(), on)
		}
		if on && (pc.ListenerOf(c) != "127.0.0.1:0" || pc.Title == "") {
			t.Errorf("%q: listener %q title %q", cfg, pc.ListenerOf(c), pc.Title)
		}
	}
}
