package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Files a config names by relative paths are found beside the config, from
// whatever directory the gateway is started in.
func TestRelativePathsResolveAgainstTheConfigFile(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	for _, sub := range []string{"certs", "plugins"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	newCert(t, filepath.Join(dir, "certs"), "x", nil, false, false)
	newCert(t, filepath.Join(dir, "certs"), "ca", nil, true, false)
	wasm, err := os.ReadFile("../../examples/wat-filter/add-header.wasm")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "plugins"), "y.wasm", string(wasm))
	writeFile(t, dir, "gw.yaml", `
listeners:
  - address: "127.0.0.1:0"
    tls:
      certificates: [{ cert: certs/x.pem, key: certs/x.key }]
      client_ca: certs/ca.pem
admin: { address: "127.0.0.1:0" }
upstreams:
  u:
    targets: [{ url: "https://127.0.0.1:9" }]
    tls: { ca: ./certs/ca.pem }
plugins:
  y: { source: plugins/y.wasm }
routes:
  - name: r
    filters: [{ wasm: y }]
    upstream: u
`)
	elsewhere := t.TempDir()
	stdout, stderr, code := runCLI(t, elsewhere, "validate", "-c", filepath.Join(dir, "gw.yaml"))
	if code != 0 {
		t.Fatalf("validate from another directory: exit %d\n%s%s", code, stdout, stderr)
	}
	// And a relative config path: its directory is the base, not the cwd.
	stdout, stderr, code = runCLI(t, filepath.Dir(dir), "validate", "-c", filepath.Join(filepath.Base(dir), "gw.yaml"))
	if code != 0 {
		t.Fatalf("validate with a relative config path: exit %d\n%s%s", code, stdout, stderr)
	}
	// A file that is not there is named where it was looked for.
	if err := os.Remove(filepath.Join(dir, "plugins", "y.wasm")); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = runCLI(t, elsewhere, "validate", "-c", filepath.Join(dir, "gw.yaml"))
	if code == 0 || !strings.Contains(stderr, filepath.Join(dir, "plugins", "y.wasm")) {
		t.Fatalf("validate without the plugin: exit %d, want 1 naming %s:\n%s", code, filepath.Join(dir, "plugins", "y.wasm"), stderr)
	}
}
