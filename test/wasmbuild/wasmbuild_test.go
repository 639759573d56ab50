// Package wasmbuild checks that every committed .wasm file is what its
// committed source builds to: each is rebuilt the way `make plugins` builds
// it and compared byte for byte, so a source changed without its module
// rebuilt (or a module edited by hand) fails here instead of shipping a
// filter that does something else than its code says.
//
// Go guests are always checked (Go is always there; builds use -trimpath,
// so the checkout's path does not matter). WAT needs wat2wasm (wabt), the C
// examples clang with wasi-libc: without them those are skipped, saying
// so, except under CI (whose .ci/run installs them), where they fail.
// AssemblyScript is checked when examples/assemblyscript has its compiler
// installed (npm ci there, which needs the npm registry).
package wasmbuild

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// root is the repository root, from this package's directory.
const root = "../.."

// goBuild is the Makefile's WASM_BUILD.
var goBuild = []string{"build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w"}

// goGuest is a Go guest: built in module directory dir from package pkg
// into out (all relative to the repository root).
type goGuest struct{ dir, pkg, out string }

// goGuests lists the Go guests as the Makefile's plugins target (and
// filters/wasm/gen.go) builds them.
func goGuests(t *testing.T) []goGuest {
	t.Helper()
	var gs []goGuest
	glob := func(module, pattern string) {
		mains, err := filepath.Glob(filepath.Join(root, module, pattern, "main.go"))
		if err != nil || len(mains) == 0 {
			t.Fatalf("no Go guests in %s/%s (%v)", module, pattern, err)
		}
		for _, m := range mains {
			n := filepath.Base(filepath.Dir(m))
			gs = append(gs, goGuest{module, "./" + n, filepath.Join(module, n, n+".wasm")})
		}
	}
	glob("plugins", "*")
	glob("test/conformance/guests", "*")
	glob("examples/go-sdk", "*")
	gs = append(gs,
		goGuest{"examples/go-filter", ".", "examples/go-filter/go-filter.wasm"},
		goGuest{"cmd/wasmgate/testdata/probe", ".", "cmd/wasmgate/testdata/probe/probe.wasm"},
		goGuest{"filters/wasm/testdata/goguest", ".", "filters/wasm/testdata/goguest.wasm"},
	)
	return gs
}

func TestGoGuestsMatchSources(t *testing.T) {
	if testing.Short() {
		t.Skip("rebuilds every Go guest")
	}
	tmp := t.TempDir()
	for _, g := range goGuests(t) {
		t.Run(g.out, func(t *testing.T) {
			out := filepath.Join(tmp, strings.ReplaceAll(g.out, "/", "_"))
			args := append(slices.Clone(goBuild), "-o", out, g.pkg)
			cmd := exec.Command("go", args...)
			cmd.Dir = filepath.Join(root, g.dir)
			cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOWORK=off", "GOFLAGS=")
			run(t, cmd)
			sameBytes(t, g.out, out, "make plugins")
		})
	}
	t.Run("demo json-validate is the plugin's", func(t *testing.T) {
		sameBytes(t, "cmd/wasmgate/demo/json-validate.wasm", filepath.Join(root, "plugins/json-validate/json-validate.wasm"), "make plugins")
	})
}

// TestWATModulesMatchSources reassembles every committed .wat that has a
// .wasm beside it.
func TestWATModulesMatchSources(t *testing.T) {
	if _, err := exec.LookPath("wat2wasm"); err != nil {
		missing(t, "wat2wasm is not installed (apt-get install wabt): the WAT modules are not checked")
	}
	var wats []string
	for _, pattern := range []string{"examples/wat-filter/*.wat", "test/conformance/testdata/*.wat", "filters/wasm/testdata/*.wat"} {
		m, _ := filepath.Glob(filepath.Join(root, pattern))
		if len(m) == 0 {
			t.Fatalf("no .wat files match %s", pattern)
		}
		wats = append(wats, m...)
	}
	tmp := t.TempDir()
	n := 0
	for _, w := range wats {
		committed := strings.TrimSuffix(w, ".wat") + ".wasm"
		if _, err := os.Stat(committed); err != nil {
			continue // a text-only module (a test assembles it itself)
		}
		n++
		rel, _ := filepath.Rel(root, committed)
		t.Run(rel, func(t *testing.T) {
			out := filepath.Join(tmp, strings.ReplaceAll(rel, "/", "_"))
			run(t, exec.Command("wat2wasm", w, "-o", out))
			sameBytes(t, rel, out, "wat2wasm "+strings.TrimSuffix(rel, ".wasm")+".wat -o "+rel)
		})
	}
	if n < 10 {
		t.Errorf("only %d .wat files have a committed .wasm", n)
	}
}

// TestCExamplesMatchSources runs examples/c-filter/build.sh on a copy of
// the directory and compares what it builds.
func TestCExamplesMatchSources(t *testing.T) {
	if _, err := exec.LookPath("clang"); err != nil {
		missing(t, "clang is not installed (apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32): the C examples are not checked")
	}
	sysroot := cmp.Or(os.Getenv("WASI_SYSROOT"), "/usr")
	if _, err := os.Stat(filepath.Join(sysroot, "lib/wasm32-wasi/libc.a")); err != nil {
		missing(t, "wasi-libc is not installed under "+sysroot+" (apt-get install wasi-libc libclang-rt-14-dev-wasm32): the C examples are not checked")
	}
	src := filepath.Join(root, "examples/c-filter")
	tmp := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	var wasms []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(e.Name(), ".wasm") {
			wasms = append(wasms, e.Name())
			continue // built afresh
		}
		if err := os.WriteFile(filepath.Join(tmp, e.Name()), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run(t, exec.Command("sh", filepath.Join(tmp, "build.sh")))
	if len(wasms) == 0 {
		t.Fatal("no committed .wasm in examples/c-filter")
	}
	for _, w := range wasms {
		sameBytes(t, "examples/c-filter/"+w, filepath.Join(tmp, w), "examples/c-filter/build.sh")
	}
}

// TestAssemblyScriptExamplesMatchSources rebuilds the AssemblyScript
// examples with the compiler npm installed (`npm ci` in
// examples/assemblyscript), on a copy of the directory.
func TestAssemblyScriptExamplesMatchSources(t *testing.T) {
	dir := filepath.Join(root, "examples/assemblyscript")
	if _, err := os.Stat(filepath.Join(dir, "node_modules/.bin/asc")); err != nil {
		t.Skip("the AssemblyScript compiler is not installed (cd examples/assemblyscript && npm ci): its examples are not checked")
	}
	if _, err := exec.LookPath("npm"); err != nil {
		t.Skip("npm is not installed: the AssemblyScript examples are not checked")
	}
	tmp := t.TempDir()
	run(t, exec.Command("cp", "-a", dir+"/.", tmp))
	committed, _ := filepath.Glob(filepath.Join(tmp, "*/*.wasm"))
	for _, c := range committed {
		if err := os.Remove(c); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("npm", "run", "asbuild")
	cmd.Dir = tmp
	run(t, cmd)
	if len(committed) == 0 {
		t.Fatal("no committed .wasm in examples/assemblyscript/*/")
	}
	for _, c := range committed {
		rel, _ := filepath.Rel(tmp, c)
		sameBytes(t, "examples/assemblyscript/"+rel, c, "make plugins (npm run asbuild)")
	}
}

// missing skips a check whose toolchain is not installed, saying which,
// and fails it under CI, whose .ci/run installs wabt, clang and wasi-libc.
func missing(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (CI is set: .ci/run installs it)")
	}
	t.Skip(msg)
}

func run(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	c.Dir, c.Env = cmd.Dir, cmd.Env
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("%s (in %s): %v\n%s", strings.Join(cmd.Args, " "), cmd.Dir, err, out)
	}
}

// sameBytes fails unless the committed file rel (from the repository
// root) equals built, saying how to rebuild it and, for Go builds, which Go
// each was built with.
func sameBytes(t *testing.T, rel, built, how string) {
	t.Helper()
	want, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatalf("%s is not committed: %v", rel, err)
	}
	if bytes.Equal(got, want) {
		return
	}
	msg := fmt.Sprintf("%s (sha256 %x, %d bytes) is not what its source builds to (sha256 %x, %d bytes): rebuild it (%s) and commit it",
		rel, sha256.Sum256(got), len(got), sha256.Sum256(want), len(want), how)
	if bi, err := buildinfo.ReadFile(filepath.Join(root, rel)); err == nil {
		msg += fmt.Sprintf("; it was built with %s, this is %s", bi.GoVersion, runtime.Version())
		if bi.GoVersion != runtime.Version() {
			msg += " (a different Go builds different bytes: rebuild with this one)"
		}
	}
	t.Error(msg)
}
