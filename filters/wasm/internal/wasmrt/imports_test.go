package wasmrt

import (
	"os"
	"testing"
)

// The http-wasm guests import http_handler; the Proxy-Wasm ones (with
// imports of every kind the parser must step over) do not; a truncated
// module is an error, not a guess.
// (Only the sections up to the imports are read.)
func TestImportsModule(t *testing.T) {
	for file, want := range map[string]bool{
		"../../testdata/hw_header.wasm": true,
		"../../testdata/hw_body.wasm":   true,
		"../../testdata/lifecycle.wasm": false,
		"../../testdata/goguest.wasm":   false,
		"../../testdata/minimal.wasm":   false,
	} {
		code, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ImportsModule(code, "http_handler")
		if err != nil || got != want {
			t.Errorf("%s: %v, %v; want %v", file, got, err, want)
		}
		if _, err := ImportsModule(code[:11], "none"); err == nil {
			t.Errorf("%s cut inside its first section: no error", file)
		}
	}
}
