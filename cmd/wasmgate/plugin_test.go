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
		{[]string{"plugin", "new", "ok", "--lang", "cobol", "--dir", filepath.Join(dir, "x")}, "valid languages are go, assemblyscript and c"},
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
	needTools(t, "", "make", "go")
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

const probe = "testdata/probe/probe.wasm" // testdata/probe/main.go; rebuilt by make plugins

func TestPluginTestShowsStartLogsAtTheGuestLogLevel(t *testing.T) {
	stdout, _, err := runCLI(t, "plugin", "test", probe, "--config", "cfg-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"start (proxy_on_vm_start, proxy_on_configure)", "[info] probe: vm started\n", `[info] probe: configured with "cfg-1"`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "(debug)") || strings.Contains(stdout, "probe: request") {
		t.Errorf("debug lines at the default level info:\n%s", stdout)
	}

	stdout, _, err = runCLI(t, "plugin", "test", probe, "--log-level", "debug")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[debug] probe: vm started (debug)", "[debug] probe: request /"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("--log-level debug: output lacks %q:\n%s", want, stdout)
		}
	}

	if _, stderr, err := runCLI(t, "plugin", "test", probe, "--log-level", "verbose"); err == nil || !strings.Contains(stderr, "valid levels are trace") {
		t.Errorf("--log-level verbose: err = %v, stderr = %q", err, stderr)
	}
}

func TestPluginTestBodySetsContentLength(t *testing.T) {
	stdout, _, err := runCLI(t, "plugin", "test", probe, "--request", "POST http://localhost/length", "--body", "hello")
	if err != nil || !strings.Contains(stdout, "+ request header X-Seen-Length: 5\n") {
		t.Fatalf("err = %v, output:\n%s", err, stdout)
	}
	stdout, _, err = runCLI(t, "plugin", "test", probe, "--request", "GET http://localhost/length")
	if err != nil || !strings.Contains(stdout, "+ request header X-Seen-Length: none\n") {
		t.Fatalf("without --body: err = %v, output:\n%s", err, stdout)
	}
}

func TestPluginTestCannedCallout(t *testing.T) {
	body := filepath.Join(t.TempDir(), "answer")
	if err := os.WriteFile(body, []byte("from-file"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ flag, header, call string }{
		{"auth=201:yes", "+ request header X-Auth: 201:yes\n", "auth: GET /check -> 201"},
		{"auth=403:@" + body, "+ request header X-Auth: 403:from-file\n", "auth: GET /check -> 403"},
		{"auth=204", "+ request header X-Auth: 204:\n", "auth: GET /check -> 204"},
	} {
		stdout, stderr, err := runCLI(t, "plugin", "test", probe, "--request", "GET http://localhost/callout", "--callout", tc.flag)
		if err != nil || !strings.Contains(stdout, tc.header) || !strings.Contains(stdout, tc.call) {
			t.Errorf("--callout %s: err = %v, stderr = %q, output:\n%s", tc.flag, err, stderr, stdout)
		}
	}
	for _, bad := range []string{"auth", "=200", "auth=ok", "auth=99:x"} {
		if _, stderr, err := runCLI(t, "plugin", "test", probe, "--callout", bad); err == nil || !strings.Contains(stderr, "--callout") {
			t.Errorf("--callout %q: err = %v, stderr = %q", bad, err, stderr)
		}
	}
}

func TestPluginTestReportsAPauseNothingResumed(t *testing.T) {
	stdout, stderr, err := runCLI(t, "plugin", "test", probe, "--request", "GET http://localhost/hold")
	if !errors.Is(err, errReported) {
		t.Fatalf("err = %v, want a failure", err)
	}
	if !strings.Contains(stderr, "plugin probe paused the exchange in proxy_on_request_headers and never resumed it") ||
		!strings.Contains(stdout, "paused: proxy_on_request_headers returned Pause") {
		t.Fatalf("stdout:\n%s\nstderr: %s", stdout, stderr)
	}
	// A pause a body callback resumes (it returns Continue) is no hold.
	if _, stderr, err := runCLI(t, "plugin", "test", probe, "--request", "POST http://localhost/hold", "--body", "x"); err != nil {
		t.Fatalf("resumed by the body callback: err = %v, stderr = %q", err, stderr)
	}
}

func TestPluginTestFailureNamesThePlugin(t *testing.T) {
	for _, tc := range []struct {
		args []string
		name string
	}{
		{nil, "probe"},
		{[]string{"--name", "order-check"}, "order-check"},
	} {
		args := append([]string{"plugin", "test", probe, "--request", "GET http://localhost/trap"}, tc.args...)
		stdout, stderr, err := runCLI(t, args...)
		if !errors.Is(err, errReported) {
			t.Fatalf("%q: err = %v, want a failure", args, err)
		}
		if !strings.Contains(stdout, `plugin `+tc.name+` failed`) || !strings.Contains(stderr, "plugin "+tc.name+" failed") {
			t.Fatalf("%q: the failure does not name the plugin %s:\nstdout:\n%s\nstderr: %s", args, tc.name, stdout, stderr)
		}
	}
}

// validate compiles the plugins a route uses into the on-disk cache that
// serve reads, so the first serve after it skips the cold compile.
func TestValidateWarmsTheCompilationCache(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "cache")
	t.Setenv("WASMGATE_CACHE_DIR", cache)
	module, err := filepath.Abs(probe)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "gw.yaml")
	if err := os.WriteFile(cfg, []byte(`
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
plugins:
  probe: { source: "`+module+`" }
routes:
  - { name: r, match: { prefix: / }, filters: [{ wasm: probe }], respond: { body: ok } }
`), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := runCLI(t, "validate", "-c", cfg)
	if err != nil {
		t.Fatalf("validate: %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "1 plugin module(s) compiled into the cache "+cache) {
		t.Errorf("validate output:\n%s", stdout)
	}
	var files int
	_ = filepath.WalkDir(cache, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files++
		}
		return nil
	})
	if files == 0 {
		t.Fatalf("the compilation cache %s is empty after validate", cache)
	}
}

// scaffoldAndRun writes a --lang scaffold, builds it with make and runs it
// through plugin test, as make test does, checking the header it adds; its
// sample config must validate.
func scaffoldAndRun(t *testing.T, lang, name, header string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if _, stderr, err := runCLI(t, "plugin", "new", name, "--lang", lang, "--dir", dir); err != nil {
		t.Fatalf("plugin new: %v\n%s", err, stderr)
	}
	cmd := exec.Command("make")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make: %v\n%s", err, out)
	}
	wasm := filepath.Join(dir, name+".wasm")
	args := []string{"plugin", "test", wasm, "--config", "hello"}
	if lang == "assemblyscript" {
		args = append(args, "--root-id", strings.ReplaceAll(name, "-", "_"))
	}
	stdout, stderr, err := runCLI(t, args...)
	if err != nil || !strings.Contains(stdout, "+ request header "+header+": hello\n") {
		t.Fatalf("plugin test: err = %v, stderr = %q, output:\n%s", err, stderr, stdout)
	}
	t.Chdir(dir)
	if stdout, stderr, err = runCLI(t, "validate", "-c", "gateway.yaml"); err != nil {
		t.Fatalf("validate the sample config: %v\n%s%s", err, stdout, stderr)
	}
}

func TestPluginNewAssemblyScriptBuildsAndRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("npm install and asc: not with -short")
	}
	needTools(t, "the AssemblyScript scaffold needs npm (apt-get install npm)", "make", "npm")
	scaffoldAndRun(t, "assemblyscript", "as-hello", "X-As-Hello")
}

func TestPluginNewCBuildsAndRuns(t *testing.T) {
	const cPackages = "the C scaffold needs apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32"
	needTools(t, cPackages, "make", "clang", "wasm-ld")
	if _, err := os.Stat("/usr/lib/wasm32-wasi/libc.a"); err != nil {
		missing(t, "wasi-libc is not installed: "+cPackages)
	}
	scaffoldAndRun(t, "c", "c-hello", "X-C-Hello")
}

// The C scaffold carries a copy of examples/c-filter's ABI header: the two
// stay the same.
func TestCScaffoldHeaderMatchesTheExample(t *testing.T) {
	example, err := os.ReadFile("../../examples/c-filter/proxy_wasm_intrinsics.h")
	if err != nil {
		t.Fatal(err)
	}
	copied, err := scaffold.ReadFile("scaffold/c/proxy_wasm_intrinsics.h.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(example, copied) {
		t.Fatal("cmd/wasmgate/scaffold/c/proxy_wasm_intrinsics.h.tmpl differs from examples/c-filter/proxy_wasm_intrinsics.h; copy it again")
	}
}

// needTools skips the test where a tool it builds with is not installed,
// and fails it under CI, whose .ci/run installs them all: a scaffold that
// CI never builds is not a tested one.
func needTools(t *testing.T, hint string, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			msg := tool + " is not installed"
			if hint != "" {
				msg += ": " + hint
			}
			missing(t, msg)
		}
	}
}

func missing(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (CI is set: .ci/run installs it)")
	}
	t.Skip(msg)
}
