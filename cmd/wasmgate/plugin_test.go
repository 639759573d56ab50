package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI executes the wasmgate command line in process.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	err = root.Execute()
	return out.String(), errOut.String(), err
}

func repoSDK(t *testing.T) string {
	t.Helper()
	sdk, err := filepath.Abs("../../sdk")
	if err != nil || !isSDK(sdk) {
		t.Fatalf("the SDK is not at ../../sdk: %v", err)
	}
	return sdk
}

func TestPluginUnknownSubcommandFails(t *testing.T) {
	_, stderr, err := runCLI(t, "plugin", "bogus")
	if !errors.Is(err, errReported) {
		t.Fatalf("err = %v, want a failure (exit status 1)", err)
	}
	if !strings.Contains(stderr, "plugin bogus: unknown command") || !strings.Contains(stderr, "new") {
		t.Fatalf("stderr = %q", stderr)
	}
	if _, _, err := runCLI(t, "plugin"); err != nil {
		t.Fatalf("plugin alone shows help: err = %v", err)
	}
}

func TestPluginNewRefuses(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keep"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"plugin", "new", "Bad Name", "--sdk", repoSDK(t)}, "use lower-case letters"},
		{[]string{"plugin", "new", "ok", "--dir", dir, "--sdk", repoSDK(t)}, "exists and is not empty"},
		{[]string{"plugin", "new", "ok", "--lang", "cobol", "--dir", filepath.Join(dir, "x")}, "written for go only so far"},
		{[]string{"plugin", "new", "ok", "--dir", filepath.Join(dir, "y"), "--sdk", dir}, "no go.mod for module github.com/wasmgate/wasmgate/sdk"},
	} {
		_, stderr, err := runCLI(t, tc.args...)
		if !errors.Is(err, errReported) || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: err = %v, stderr = %q, want %q", tc.args, err, stderr, tc.want)
		}
	}
}

// The scaffold works out of the box: make builds the module, make test
// passes its unit tests (natively and in the module), wasmgate plugin test
// runs a request through it, and its sample config validates.
func TestPluginNewGoBuildsTestsAndRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go module for wasip1 and runs its tests: not with -short")
	}
	for _, tool := range []string{"make", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	dir := filepath.Join(t.TempDir(), "hello")
	stdout, stderr, err := runCLI(t, "plugin", "new", "hello", "--dir", dir, "--sdk", repoSDK(t))
	if err != nil {
		t.Fatalf("plugin new: %v\n%s", err, stderr)
	}
	for _, f := range []string{"main.go", "main_test.go", "go.mod", "Makefile", "README.md", "gateway.yaml"} {
		if !strings.Contains(stdout, filepath.Join(dir, f)) {
			t.Errorf("plugin new did not report writing %s:\n%s", f, stdout)
		}
	}
	make := func(target ...string) {
		t.Helper()
		cmd := exec.Command("make", target...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make %s: %v\n%s", strings.Join(target, " "), err, out)
		}
	}
	make()
	wasm := filepath.Join(dir, "hello.wasm")
	if _, err := os.Stat(wasm); err != nil {
		t.Fatalf("make built no hello.wasm: %v", err)
	}
	make("test")

	stdout, stderr, err = runCLI(t, "plugin", "test", wasm, "--config", `{"header": "x-hello", "value": "world"}`)
	if err != nil {
		t.Fatalf("plugin test: %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "+ request header X-Hello: world") {
		t.Fatalf("plugin test output:\n%s", stdout)
	}

	t.Chdir(dir) // the sample config names hello.wasm relative to its directory
	if stdout, stderr, err = runCLI(t, "validate", "-c", "gateway.yaml"); err != nil {
		t.Fatalf("validate the sample config: %v\n%s%s", err, stdout, stderr)
	}
}
