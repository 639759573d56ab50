// Package wasmtest holds what the tests that run committed .wasm filters in
// the real host share: loading a module from the repository root and running
// one exchange that must not fail.
package wasmtest

import (
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/filters/wasm"
)

// root is the repository root, found from this file's place in it.
var root = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}()

// Load loads the module at path (relative to the repository root), named
// after its file unless opts names it, and closes it when the test ends.
func Load(t testing.TB, path string, opts wasm.Options) *wasm.Plugin {
	t.Helper()
	if opts.Name == "" {
		opts.Name = strings.TrimSuffix(filepath.Base(path), ".wasm")
	}
	p, err := wasm.Load(context.Background(), filepath.Join(root, path), opts)
	if err != nil {
		t.Fatalf("loading %s: %v", path, err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// Exchange runs one exchange through p and fails the test if the host or
// the plugin failed.
func Exchange(t testing.TB, p *wasm.Plugin, run wasm.Run) *wasm.Outcome {
	t.Helper()
	out, err := p.Exchange(context.Background(), run)
	if err != nil {
		t.Fatal(err)
	}
	if out.Failed != nil {
		t.Fatalf("plugin failed: %v; logs %v", out.Failed, out.Logs)
	}
	return out
}
