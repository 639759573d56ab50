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
