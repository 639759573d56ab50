package wasm

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/instrument"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/wasmrt"
)

// repoModules are every committed .wasm of the repository: test guests,
// first-party plugins, examples in several languages.
func repoModules(t *testing.T) []string {
	var paths []string
	for _, pat := range []string{"testdata/*.wasm", "../../plugins/*/*.wasm", "../../examples/*/*.wasm",
		"../../examples/*/*/*.wasm", "../../test/*/testdata/*.wasm", "../../test/languages/*/*.wasm"} {
		m, _ := filepath.Glob(pat)
		paths = append(paths, m...)
	}
	if len(paths) < 10 {
		t.Fatalf("found only %d modules", len(paths))
	}
	return paths
}

// Every module we have instruments, and the result is valid Wasm with the
// same exports and one more import. The interpreter validates the whole
// module as the compiler does, in a tenth of the time under -race; what the
// compiler makes of instrumented code, the tests that run plugins show.
func TestInstrumentModules(t *testing.T) {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	for _, path := range repoModules(t) {
		code, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		ic, err := instrument.Rewrite(code)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		orig, err := rt.CompileModule(ctx, code)
		if err != nil {
			continue // a deliberately broken module: not ours to judge
		}
		got, err := rt.CompileModule(ctx, ic)
		if err != nil {
			t.Errorf("%s: the instrumented module does not compile: %v", path, err)
			continue
		}
		if a, b := len(orig.ExportedFunctions()), len(got.ExportedFunctions()); a != b {
			t.Errorf("%s: %d exports, instrumented %d", path, a, b)
		}
		if a, b := len(orig.ImportedFunctions()), len(got.ImportedFunctions()); a+1 != b {
			t.Errorf("%s: %d imports, instrumented %d", path, a, b)
		}
		if a, b := len(wasmrt.GuestModule(got, true).ImportedFunctions()), len(orig.ImportedFunctions()); a != b {
			t.Errorf("%s: the guest view shows %d imports, want %d", path, a, b)
		}
		for name, d := range orig.ExportedFunctions() {
			g, ok := got.ExportedFunctions()[name]
			if !ok || len(g.ParamTypes()) != len(d.ParamTypes()) || len(g.ResultTypes()) != len(d.ResultTypes()) {
				t.Errorf("%s: export %s changed", path, name)
			}
			if d.Name() != g.Name() {
				t.Errorf("%s: export %s: name section says %q, instrumented %q", path, name, d.Name(), g.Name())
			}
		}
	}
}

// Plugins load instrumented (so without WithCloseOnContextDone), and still
// work: the Go SDK plugins run their full lifecycle.
func TestPluginsRunInstrumented(t *testing.T) {
	opts, _ := testOptions(t, "add-header")
	opts.Config = []byte(`{"name":"x-added","value":"yes"}`)
	p, err := Load(context.Background(), "../../plugins/add-header/add-header.wasm", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if !p.instrumented {
		t.Fatal("the Go SDK plugin is not instrumented")
	}
	for i := 0; i < 3; i++ {
		out := exchange(t, p, request("GET", "http://x/"))
		if out.Failed != nil {
			t.Fatal(out.Failed)
		}
	}
}

// A runaway guest is stopped at its deadline by the instrumented check, in
// a callback and at start-up. The guest would spin forever otherwise, so a
// generous upper bound (what a loaded machine under the race detector
// needs) still tells a stop from none; the stop is typically within 2x.
func TestRunawayStoppedWithinTwiceDeadline(t *testing.T) {
	const d = 50 * time.Millisecond
	opts, _ := testOptions(t, "loop")
	opts.Timeout = d
	p := load(t, "loop_callback", opts)
	if !p.instrumented {
		t.Fatal("not instrumented")
	}
	exchange(t, p, request("GET", "http://x/")) // warm
	for i := 0; i < 3; i++ {
		t0 := time.Now()
		out := exchange(t, p, request("GET", "http://x/", "X-Loop", "1"))
		took := time.Since(t0)
		if !isPolicy503(out.Local, "loop") || out.Failed == nil || !strings.Contains(out.Failed.Error(), "deadline") {
			t.Fatalf("want the 503 of a deadline, got %+v (failed %v)", out.Local, out.Failed)
		}
		if took < d || took > 20*d {
			t.Errorf("stopped after %v, want between %v and %v", took, d, 20*d)
		}
		t.Logf("runaway callback stopped after %v (deadline %v)", took, d)
		time.Sleep(6 * time.Second / 10) // the re-creation back-off must elapse before the next instance
	}

	sopts, _ := testOptions(t, "loop-start")
	sopts.StartTimeout = d
	t0 := time.Now()
	_, err := Load(context.Background(), "testdata/loop_start.wasm", sopts)
	took := time.Since(t0)
	if err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("want a deadline error, got %v", err)
	}
	if took > 20*d+2*time.Second { // compilation included
		t.Errorf("start-up stopped after %v, want about %v", took, d)
	}
}

// A guest spinning forever does not block the garbage collector (compiled
// Wasm is not preemptible by Go; the checks are the preemption points), so
// other goroutines keep running while it waits for its deadline.
func TestRunawayDoesNotBlockGC(t *testing.T) {
	// A GC blocked by the guest would wait for its deadline; one that is only
	// slow (a loaded machine, the race detector, a large heap left by the
	// package's other tests) ends well before it. So the deadline scales
	// with how long a GC takes here without a guest spinning (a GC took
	// 13s under -race on a 2-core machine at load 17), and the bound is half
	// the deadline: not a measure of GC speed, but of whether GC waited.
	t0 := time.Now()
	runtime.GC()
	base := time.Since(t0)
	opts, _ := testOptions(t, "loop")
	opts.Timeout = max(8*time.Second, 8*base)
	p := load(t, "loop_callback", opts)
	exchange(t, p, request("GET", "http://x/")) // warm: one idle instance, so the next exchange only takes it
	if s := p.Stats(); s.LiveInstances != 1 || s.IdleInstances != 1 {
		t.Fatalf("after the warm-up exchange: %+v, want one idle instance", s)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		exchange(t, p, request("GET", "http://x/", "X-Loop", "1"))
	}()
	// The instance leaves the pool, then the guest is a host call away from
	// its loop, where it spins until its deadline: the GCs below run while it does.
	waitFor(t, "the looping exchange to take the instance", func() bool { return p.Stats().IdleInstances == 0 })
	for i := 0; i < 3; i++ {
		t0 := time.Now()
		runtime.GC()
		if took := time.Since(t0); took > opts.Timeout/2 {
			t.Errorf("a GC took %v while a guest spun (%v without; deadline %v)", took, base, opts.Timeout)
		}
	}
	wg.Wait()
}

// A module that imports the instrumentation's own module is not
// instrumented, and is refused like any other foreign import.
func TestInstrumentRefusesOwnImport(t *testing.T) {
	// (module (import "wasmgate_interrupt" "check" (func)) (memory (export "memory") 1)
	//   (func (export "proxy_abi_version_0_2_1")) (func (export "malloc") (param i32) (result i32) i32.const 0)
	//   (func (export "proxy_on_context_create") (param i32 i32)))
	code := []byte("\x00\x61\x73\x6d\x01\x00\x00\x00\x01\x0e\x03\x60\x00\x00\x60\x01\x7f\x01\x7f\x60\x02\x7f\x7f\x00\x02\x1c\x01\x12\x77\x61\x73\x6d\x67\x61\x74\x65\x5f\x69\x6e\x74\x65\x72\x72\x75\x70\x74\x05\x63\x68\x65\x63\x6b\x00\x00\x03\x04\x03\x00\x01\x02\x05\x03\x01\x00\x01\x07\x47\x04\x06\x6d\x65\x6d\x6f\x72\x79\x02\x00\x17\x70\x72\x6f\x78\x79\x5f\x61\x62\x69\x5f\x76\x65\x72\x73\x69\x6f\x6e\x5f\x30\x5f\x32\x5f\x31\x00\x01\x06\x6d\x61\x6c\x6c\x6f\x63\x00\x02\x17\x70\x72\x6f\x78\x79\x5f\x6f\x6e\x5f\x63\x6f\x6e\x74\x65\x78\x74\x5f\x63\x72\x65\x61\x74\x65\x00\x03\x0a\x0c\x03\x02\x00\x0b\x04\x00\x41\x00\x0b\x02\x00\x0b")
	if _, err := instrument.Rewrite(code); err == nil {
		t.Fatal("instrumented a module importing wasmgate_interrupt")
	}
	opts, _ := testOptions(t, "own")
	_, err := LoadBytes(context.Background(), code, opts)
	if err == nil || !strings.Contains(err.Error(), "imports are only allowed from") {
		t.Fatalf("want the import refused, got %v", err)
	}
}

// A plugin rejecting its configuration: the load error quotes what it logged.
func TestConfigureFalseQuotesGuestLog(t *testing.T) {
	opts, _ := testOptions(t, "json-validate")
	opts.Config = []byte(`{"schema": {"type": "nope"}}`)
	_, err := Load(context.Background(), "../../plugins/json-validate/json-validate.wasm", opts)
	if err == nil {
		t.Fatal("loaded with a bad schema")
	}
	if !strings.Contains(err.Error(), "proxy_on_configure returned false") || !strings.Contains(err.Error(), "it logged: json-validate:") {
		t.Fatalf("the error does not quote the plugin: %v", err)
	}
	t.Log(err)
}

// Instrumenting a module (done once per load, before the compilation cache).
func BenchmarkInstrument(b *testing.B) {
	code := benchModule(b)
	b.SetBytes(int64(len(code)))
	for i := 0; i < b.N; i++ {
		if _, err := instrument.Rewrite(code); err != nil {
			b.Fatal(err)
		}
	}
}
