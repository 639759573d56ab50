package instrument

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tetratelabs/wazero"
)

// smallModules are the repository's hand-written modules (WAT test guests,
// the conformance probe, the WAT example): small enough to fuzz from.
func smallModules(t testing.TB) [][]byte {
	var out [][]byte
	for _, pat := range []string{"../../testdata/*.wasm", "../../../../test/conformance/testdata/*.wasm", "../../../../examples/wat-filter/*.wasm"} {
		paths, _ := filepath.Glob(pat)
		for _, p := range paths {
			code, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if len(code) < 64<<10 {
				out = append(out, code)
			}
		}
	}
	if len(out) < 5 {
		t.Fatalf("found only %d small modules", len(out))
	}
	return out
}

// checkRewrite is the property both the test and the fuzzer hold the
// rewriter to: it never panics; for a module wazero accepts, it either
// refuses or yields a module wazero accepts with one more import (the
// check), the same exports with the same signatures, and every step of
// the instrumentation in place; for one wazero refuses, whatever it
// yields is refused too (it never repairs a broken module into a valid
// one it did not understand).
func checkRewrite(t *testing.T, rt wazero.Runtime, code []byte) {
	t.Helper()
	ctx := context.Background()
	out, err := Rewrite(code)
	orig, origErr := rt.CompileModule(ctx, code)
	if err != nil {
		return
	}
	if bytes.Equal(out, code) {
		t.Fatal("Rewrite returned the module unchanged")
	}
	got, gotErr := rt.CompileModule(ctx, out)
	if origErr != nil {
		if gotErr == nil {
			t.Fatalf("wazero refuses the input (%v) but accepts its rewrite", origErr)
		}
		return
	}
	if gotErr != nil {
		t.Fatalf("the rewritten module does not compile: %v", gotErr)
	}
	if a, b := len(orig.ImportedFunctions()), len(got.ImportedFunctions()); a+1 != b {
		t.Fatalf("%d imports, rewritten %d", a, b)
	}
	found := false
	for _, f := range got.ImportedFunctions() {
		if mod, name, _ := f.Import(); mod == Module && name == Func {
			found = len(f.ParamTypes()) == 0 && len(f.ResultTypes()) == 0
		}
	}
	if !found {
		t.Fatalf("no %s.%s import of type [] -> []", Module, Func)
	}
	for name, d := range orig.ExportedFunctions() {
		g, ok := got.ExportedFunctions()[name]
		if !ok || !equalTypes(g.ParamTypes(), d.ParamTypes()) || !equalTypes(g.ResultTypes(), d.ResultTypes()) {
			t.Fatalf("export %s changed", name)
		}
	}
	if len(orig.ExportedFunctions()) != len(got.ExportedFunctions()) {
		t.Fatalf("%d exports, rewritten %d", len(orig.ExportedFunctions()), len(got.ExportedFunctions()))
	}
}

func equalTypes[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func interpreter(t testing.TB) wazero.Runtime {
	rt := wazero.NewRuntimeWithConfig(context.Background(), wazero.NewRuntimeConfigInterpreter())
	t.Cleanup(func() { rt.Close(context.Background()) })
	return rt
}

func TestRewriteSmallModules(t *testing.T) {
	rt := interpreter(t)
	for _, code := range smallModules(t) {
		if _, err := Rewrite(code); err != nil {
			t.Errorf("a module of %d bytes was refused: %v", len(code), err)
		}
		checkRewrite(t, rt, code)
	}
}

func TestRewriteRefuses(t *testing.T) {
	for name, code := range map[string][]byte{
		"empty":       nil,
		"not wasm":    []byte("#!/bin/sh\necho hi\n"),
		"version 2":   []byte("\x00asm\x02\x00\x00\x00"),
		"cut section": []byte("\x00asm\x01\x00\x00\x00\x01\x7f\x00"),
	} {
		if _, err := Rewrite(code); err == nil {
			t.Errorf("%s: rewritten without an error", name)
		}
	}
}

// FuzzRewrite mutates the small modules: the rewriter must never panic,
// and what it yields must hold checkRewrite's property. In `make fuzz`.
func FuzzRewrite(f *testing.F) {
	for _, code := range smallModules(f) {
		f.Add(code)
	}
	rt := interpreter(f)
	f.Fuzz(func(t *testing.T, code []byte) {
		checkRewrite(t, rt, code)
	})
}

// A function whose body reaches a loop header before anything else counts
// down at that header only; any other function also counts at its entry.
func TestEntryCountdownSkippedWhenALoopComesFirst(t *testing.T) {
	for _, c := range []struct {
		name string
		body []byte // the instructions of the one function, after its locals
		want int    // countdowns in the rewritten body
	}{
		{"loop first", []byte{0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b}, 1},
		{"blocks then loop", []byte{0x02, 0x40, 0x02, 0x7f, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x41, 0x00, 0x0b, 0x1a, 0x0b, 0x0b}, 1},
		{"straight line then loop", []byte{0x23, 0x00, 0x21, 0x00, 0x41, 0x7f, 0x1a, 0x01, 0x02, 0x40, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b, 0x0b}, 1},
		{"call then loop", []byte{0x10, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b}, 2},
		{"branch then loop", []byte{0x02, 0x40, 0x0c, 0x00, 0x03, 0x40, 0x0b, 0x0b, 0x0b}, 2},
		{"no loop", []byte{0x0b}, 1},
		{"loop after an if", []byte{0x41, 0x01, 0x04, 0x40, 0x0b, 0x03, 0x40, 0x0b, 0x0b}, 2},
	} {
		body := append([]byte{0x01, 0x01, 0x7f}, c.body...) // one i32 local
		code := []byte("\x00asm\x01\x00\x00\x00")
		code = append(code, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00)             // type 0: [] -> []
		code = append(code, 0x03, 0x02, 0x01, 0x00)                         // function 0 of type 0
		code = append(code, 0x06, 0x06, 0x01, 0x7f, 0x01, 0x41, 0x00, 0x0b) // a mutable i32 global
		code = append(code, 0x0a, byte(len(body)+2), 0x01, byte(len(body)))
		code = append(code, body...)
		if _, err := interpreter(t).CompileModule(context.Background(), code); err != nil {
			t.Fatalf("%s: the test module is invalid: %v", c.name, err)
		}
		out, err := Rewrite(code)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		checkRewrite(t, interpreter(t), code)
		// i32.eqz if i32.const EVERY: the start of each countdown's check.
		mark := appendS32([]byte{0x45, 0x04, 0x40, 0x41}, Every)
		if n := bytes.Count(out, mark); n != c.want {
			t.Errorf("%s: %d countdowns, want %d", c.name, n, c.want)
		}
	}
}
