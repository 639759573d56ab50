package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// `plugin inspect`, `plugin test` and shell completion, run as the user
// runs them: the real binary, its exit status and its output.
func TestPluginCLIAndCompletion(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	wat := abs("../../examples/wat-filter/add-header.wasm")
	cLocal := abs("../../examples/c-filter/local_response.wasm")

	t.Run("plugin inspect", func(t *testing.T) {
		out, errOut, code := runCLI(t, dir, "plugin", "inspect", wat)
		for _, want := range []string{"abi:     proxy-wasm 0.2.1", "env.proxy_add_header_map_value(i32, i32, i32, i32, i32) -> i32",
			"proxy_on_request_headers(i32, i32, i32) -> i32", "status:  loadable"} {
			if !strings.Contains(out, want) {
				t.Errorf("inspect output lacks %q:\n%s", want, out)
			}
		}
		if code != 0 || errOut != "" {
			t.Errorf("inspect: exit %d, stderr %q; want 0 and nothing", code, errOut)
		}
		notWasm := filepath.Join(dir, "not.wasm")
		if err := os.WriteFile(notWasm, []byte("plain text"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, errOut, code = runCLI(t, dir, "plugin", "inspect", notWasm)
		if code != 1 || !strings.Contains(errOut, notWasm) || !strings.Contains(errOut, "magic number") {
			t.Errorf("inspect of a text file: exit %d, stderr %q; want 1 naming the file and the bad magic number", code, errOut)
		}
		_, errOut, code = runCLI(t, dir, "plugin", "inspect", filepath.Join(dir, "missing.wasm"))
		if code != 1 || !strings.Contains(errOut, "no such file or directory") {
			t.Errorf("inspect of a missing file: exit %d, stderr %q; want 1 and ENOENT", code, errOut)
		}
	})

	t.Run("plugin test", func(t *testing.T) {
		out, errOut, code := runCLI(t, dir, "plugin", "test", wat, "--request", "GET http://localhost/x")
		if code != 0 || !strings.Contains(out, "+ request header X-Wat-Filter: hello\n") ||
			!strings.Contains(out, "response: 200") {
			t.Errorf("plugin test (wat): exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		out, errOut, code = runCLI(t, dir, "plugin", "test", cLocal, "--request", "GET http://localhost/blocked/1")
		if code != 0 || !strings.Contains(out, "local response: 418") || !strings.Contains(out, "X-Blocked-By: c-filter") ||
			!strings.Contains(out, "[info] local_response: blocked") {
			t.Errorf("plugin test (c local response): exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		_, errOut, code = runCLI(t, dir, "plugin", "test", wat, "--log-level", "verbose")
		if code == 0 || !strings.Contains(errOut, "valid levels are trace") {
			t.Errorf("plugin test --log-level verbose: exit %d, stderr %q; want a failure listing the levels", code, errOut)
		}
	})

	t.Run("completion", func(t *testing.T) {
		// The hidden __complete command is what every generated script calls.
		out, _, code := runCLI(t, dir, "__complete", "plugin", "")
		for _, sub := range []string{"inspect\t", "new\t", "test\t"} {
			if code != 0 || !strings.Contains(out, sub) {
				t.Errorf("completing `plugin `: exit %d, output %q lacks %q", code, out, sub)
			}
		}
		out, _, _ = runCLI(t, dir, "__complete", "serve", "--log-f")
		if !strings.Contains(out, "--log-format\t") {
			t.Errorf("completing `serve --log-f`: %q, want --log-format", out)
		}
		for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
			out, errOut, code := runCLI(t, dir, "completion", shell)
			if code != 0 || !strings.Contains(out, "wasmgate") || errOut != "" {
				t.Errorf("completion %s: exit %d, %d bytes, stderr %q", shell, code, len(out), errOut)
			}
			if shell == "bash" {
				if bash, err := exec.LookPath("bash"); err == nil {
					script := filepath.Join(dir, "wasmgate.bash")
					if err := os.WriteFile(script, []byte(out), 0o644); err != nil {
						t.Fatal(err)
					}
					if msg, err := exec.Command(bash, "-n", script).CombinedOutput(); err != nil {
						t.Errorf("the bash completion script does not parse: %v\n%s", err, msg)
					}
				}
			}
		}
	})
}
