// Package e2e tests the real wasmgate binary from the outside: it is built
// once, started per test with a config in a temp dir, and spoken to over
// loopback TCP, with httptest servers as upstreams.
package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// binary is the wasmgate binary built by TestMain ("" under -short).
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // every test skips itself
	}
	dir, err := os.MkdirTemp("", "wasmgate-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	code := 1
	if binary, err = build(dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building wasmgate:", err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// build compiles ./cmd/wasmgate from the module root into dir.
func build(dir string) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	root := filepath.Join("..", "..")
	if mod := strings.TrimSpace(string(out)); filepath.Base(mod) == "go.mod" {
		root = filepath.Dir(mod)
	}
	bin := filepath.Join(dir, "wasmgate")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "./cmd/wasmgate")...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v\n%s", err, out)
	}
	return bin, nil
}

// needBinary skips the test under -short.
func needBinary(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("e2e: skipped under -short (builds and runs the wasmgate binary)")
	}
	t.Parallel()
}
