package wasmrt

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
// function wasmgate_interrupt.check (the rewriter: internal/instrument).
// That call is the deadline check (the current callback's run time against
// its limit: over it, the host function exits the guest with
// sys.ExitCodeDeadlineExceeded) and, being Go code, also a point where the
// Go scheduler can preempt the goroutine, so a guest spinning forever can
// neither block a garbage collection nor escape its deadline. The runtime
// then runs with WithCloseOnContextDone off: no goroutine per call, no exit
// to Go per loop iteration, and no timer per callback (the check measures
// time only when it runs).
//
// A module the instrumenter cannot read (a proposal it does not know) is
// run as is with WithCloseOnContextDone on.

// InterruptModule is the import module of the instrumentation's check.
const InterruptModule = instrument.Module

// Deadline is an instrumented instance's deadline state. Only the
// goroutine calling into the instance (holding its lock) touches it.
type Deadline struct {
	seq     uint64        // bumped per callback (and once for the whole start-up)
	checked uint64        // the seq the first check of which set start
	start   time.Time     // when the current callback first reached a check
	limit   time.Duration // the current callback's limit
	expired bool          // a check ended the guest: never trust the instance again
}

// Begin starts a callback (or the start-up) with limit d.
func (d *Deadline) Begin(limit time.Duration) {
	d.seq++
	d.limit = limit
}

// Expired reports that a check ended the guest: the instance is past its
// deadline even if the guest swallowed the exit (a nested call).
func (d *Deadline) Expired() bool { return d.expired }

// check runs every instrument.Every steps of an instrumented guest. The
// first check within a callback starts its clock (so a callback that never
// reaches a check pays nothing for its deadline); a later one past the
// limit ends the guest.
func (d *Deadline) check() {
	now := time.Now()
	if d.checked != d.seq {
		d.checked, d.start = d.seq, now
		return
	}
	if now.Sub(d.start) > d.limit {
		d.expired = true
		panic(sys.NewExitError(sys.ExitCodeDeadlineExceeded))
	}
}

// InstantiateInterrupt provides the check function to an instrumented
// module in rt; deadlineOf finds the calling instance's Deadline (nil:
// no check).
func InstantiateInterrupt(ctx context.Context, rt wazero.Runtime, deadlineOf func(context.Context) *Deadline) error {
	check := func(ctx context.Context, _ api.Module, _ []uint64) {
		if d := deadlineOf(ctx); d != nil {
			d.check()
		}
	}
	_, err := rt.NewHostModuleBuilder(InterruptModule).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(check), nil, nil).Export(instrument.Func).
		Instantiate(ctx)
	return err
}

// GuestModule is the compiled module as its author built it, for
// validation: the instrumentation's import hidden.
func GuestModule(m wazero.CompiledModule, instrumented bool) wazero.CompiledModule {
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
		if mod, _, _ := f.Import(); mod != InterruptModule {
			out = append(out, f)
		}
	}
	return out
}

// Instrument is false only in benchmarks comparing with wazero's own
// WithCloseOnContextDone.
var Instrument = true

// Compiled is a runtime holding one compiled module.
type Compiled struct {
	Runtime  wazero.Runtime
	Module   wazero.CompiledModule
	Enforced bool // deadlines are on
	// Instrumented: the module counts down to deadline checks and the
	// runtime runs without WithCloseOnContextDone.
	Instrumented bool
	// NotInstrumented is why a module that should have been instrumented
	// was not (it runs with WithCloseOnContextDone instead), or nil.
	NotInstrumented error
}

// Compile creates a runtime and compiles code in it: the instrumented
// module when enforce and it can be instrumented, else the module as is
// (with WithCloseOnContextDone when enforce). pages caps linear memory.
func Compile(ctx context.Context, code []byte, pages uint32, cache wazero.CompilationCache, enforce bool) (*Compiled, error) {
	newRT := func(closeOnDone bool) wazero.Runtime {
		rc := wazero.NewRuntimeConfigCompiler()
		if !CompilerSupported() {
			rc = wazero.NewRuntimeConfigInterpreter()
		}
		return wazero.NewRuntimeWithConfig(ctx, rc.
			WithMemoryLimitPages(pages).
			WithCloseOnContextDone(closeOnDone).
			WithCompilationCache(cache))
	}
	c := &Compiled{Enforced: enforce}
	if enforce && Instrument {
		ic, ierr := instrument.Rewrite(code)
		if ierr == nil {
			rt := newRT(false)
			m, err := rt.CompileModule(ctx, ic)
			if err == nil {
				c.Runtime, c.Module, c.Instrumented = rt, m, true
				return c, nil
			}
			_ = rt.Close(context.Background())
			ierr = err // the original's compile error (if any) is the one to report
		}
		c.NotInstrumented = ierr
	}
	c.Runtime = newRT(enforce)
	m, err := c.Runtime.CompileModule(ctx, code)
	if err != nil {
		_ = c.Runtime.Close(context.Background())
		return nil, err
	}
	c.Module = m
	return c, nil
}
