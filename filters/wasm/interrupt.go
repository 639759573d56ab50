package wasm

import (
	"context"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/instrument"
)

// Deadlines without wazero's WithCloseOnContextDone.
//
// wazero 1.12's WithCloseOnContextDone costs twice: every guest call spawns
// a goroutine watching the context (unconditionally, even when ctx.Done()
// is nil: internal/engine/wazevo/call_engine.go), and every loop iteration
// of compiled code leaves native code to check in Go whether the module was
// closed (frontend/lower.go, OpcodeLoop). About 1 µs per callback and a
// several-fold slowdown of loop-heavy guests (wazero issue #2466).
//
// Instead, at load, instrument rewrites the module: a private counter
// global is decremented at every function entry and loop header, and when
// it reaches zero (every instrument.Every steps) the guest calls the host
// function wasmgate_interrupt.check (the rewriter: internal/instrument). That call is the deadline check (the
// current callback's run time against its limit: over it, the host
// function exits the guest with sys.ExitCodeDeadlineExceeded) and, being Go
// code, also a point where the Go scheduler can preempt the goroutine, so
// a guest spinning forever can neither block a garbage collection nor
// escape its deadline. The runtime then runs with WithCloseOnContextDone
// off: no goroutine per call, no exit to Go per loop iteration, and no
// timer per callback (the check measures time only when it runs).
//
// A module the instrumenter cannot read (a proposal it does not know) is
// run as is with WithCloseOnContextDone on, as before.

const (
	interruptModule = instrument.Module
	interruptFunc   = instrument.Func
)

// instrumentModules is false only in benchmarks comparing with wazero's
// own WithCloseOnContextDone.
var instrumentModules = true

// instantiateInterrupt provides the check function to an instrumented module.
func (p *Plugin) instantiateInterrupt(ctx context.Context) error {
	_, err := p.rt.NewHostModuleBuilder(interruptModule).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(interruptCheck), nil, nil).Export(interruptFunc).
		Instantiate(ctx)
	return err
}

// interruptCheck runs every instrument.Every steps of an instrumented guest.
// The first check within a callback starts its clock (so a callback that
// never reaches a check pays nothing for its deadline); a later one past
// the limit ends the guest.
func interruptCheck(ctx context.Context, _ api.Module, _ []uint64) {
	in := instanceOf(ctx)
	if in == nil {
		return
	}
	now := time.Now()
	if in.dl.checked != in.dl.seq {
		in.dl.checked, in.dl.start = in.dl.seq, now
		return
	}
	if now.Sub(in.dl.start) > in.dl.limit {
		in.dl.expired = true
		panic(sys.NewExitError(sys.ExitCodeDeadlineExceeded))
	}
}

// deadline is an instrumented instance's deadline state. Only the goroutine
// calling into the instance (holding its mutex) touches it.
type deadline struct {
	seq     uint64        // bumped per callback (and once for the whole start-up)
	checked uint64        // the seq the first check of which set start
	start   time.Time     // when the current callback first reached a check
	limit   time.Duration // the current callback's limit
	expired bool          // a check ended the guest: never trust the instance again
}

// begin starts a callback (or the start-up) with limit d.
func (d *deadline) begin(limit time.Duration) {
	d.seq++
	d.limit = limit
}

// guestModule is the compiled module as its author built it, for
// validation: the instrumentation's import hidden.
func guestModule(m wazero.CompiledModule, instrumented bool) wazero.CompiledModule {
	if !instrumented {
		return m
	}
	return guestView{m}
}

type guestView struct{ wazero.CompiledModule }

func (v guestView) ImportedFunctions() []api.FunctionDefinition {
	all := v.CompiledModule.ImportedFunctions()
	out := all[:0:0]
	for _, f := range all {
		if mod, _, _ := f.Import(); mod != interruptModule {
			out = append(out, f)
		}
	}
	return out
}

// compileRuntime creates the plugin's runtime and compiles code: the
// instrumented module when deadlines are on and it can be instrumented,
// else the module as is (with WithCloseOnContextDone when deadlines are on).
func (p *Plugin) compileRuntime(ctx context.Context, code []byte, pages uint32, cache wazero.CompilationCache) (err error) {
	enforce := !p.opts.NoCloseOnContextDone
	newRT := func(closeOnDone bool) wazero.Runtime {
		rc := wazero.NewRuntimeConfigCompiler()
		if !compilerSupported() {
			rc = wazero.NewRuntimeConfigInterpreter()
		}
		return wazero.NewRuntimeWithConfig(ctx, rc.
			WithMemoryLimitPages(pages).
			WithCloseOnContextDone(closeOnDone).
			WithCompilationCache(cache))
	}
	if enforce && instrumentModules {
		ic, ierr := instrument.Rewrite(code)
		if ierr == nil {
			p.rt = newRT(false)
			p.compiled, ierr = p.rt.CompileModule(ctx, ic)
			if ierr == nil {
				p.instrumented = true
				return nil
			}
			_ = p.rt.Close(context.Background())
			p.rt = nil
			// The original's compile error (if any) is the one to report.
		}
		p.logger.Warn("wasm module not instrumented for deadlines; using WithCloseOnContextDone (about 1 µs more per callback)", "err", ierr)
	}
	p.rt = newRT(enforce)
	p.compiled, err = p.rt.CompileModule(ctx, code)
	return err
}
