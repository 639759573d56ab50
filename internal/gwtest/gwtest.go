// Package gwtest starts an in-process gateway for the filter packages'
// tests that need the whole request path (gateway.Start on a config file).
package gwtest

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/wasmgate/wasmgate/core/gateway"
)

// Serve runs a gateway on cfg (YAML, with a listener named main) written to
// a file in a temp dir, so that tests can rewrite it and reload; it is shut
// down when the test ends.
func Serve(t testing.TB, cfg string) (g *gateway.Gateway, base, file string) {
	t.Helper()
	file = filepath.Join(t.TempDir(), "gw.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g, err := gateway.Start(gateway.Source{File: file}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Shutdown(context.Background()) })
	return g, "http://" + g.Addrs()["main"].String(), file
}
