package wasm

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/httpwasm"
	"github.com/wasmgate/wasmgate/filters/wasm/internal/proxywasm"
	"github.com/wasmgate/wasmgate/filters/wasm/internal/wasmrt"
)

// callback indexes callbackNames, the exports an instance caches: the
// Proxy-Wasm callbacks, then the http-wasm ones. The indexes are disjoint:
// the route filter calls the Proxy-Wasm callbacks on an instance of either
// ABI, and a callback the module does not export is a no-op.
type callback int

const (
	cbHandleRequest  = proxywasm.NumCallbacks + httpwasm.HandleRequest
	cbHandleResponse = proxywasm.NumCallbacks + httpwasm.HandleResponse
	numCallbacks     = proxywasm.NumCallbacks + httpwasm.NumCallbacks
)

var callbackNames = func() (names [numCallbacks]string) {
	copy(names[:], proxywasm.Callbacks[:])
	copy(names[proxywasm.NumCallbacks:], httpwasm.Callbacks[:])
	return names
}()

// rootID is the first root context's id; stream contexts count up from
// it (roots.go: the ids of later roots).
const rootID = 1

// instance is one instantiated module. Callbacks into it are serialized by
// mu; exchanges pinned to it share it. Once broken (a trap, a deadline, a
// host error) it is never called again.
type instance struct {
	p   *Plugin
	mod api.Module
	mem api.Memory

	mu     sync.Mutex // held for each callback, and while cur is set
	cur    *stream    // the stream whose callback runs; nil for a root context
	root   *root      // the root context whose callback runs when cur is nil (roots.go)
	roots  []*root    // the root contexts created here, oldest first
	ctx    *wasmrt.CallCtx
	fns    [numCallbacks]api.Function // nil where not exported
	params [numCallbacks]int
	alloc  api.Function
	stack  [8]uint64 // callback params and results
	astack [1]uint64 // allocator params and results (used inside a callback)
	nextID uint32
	scr    []byte    // scratch for serializing maps
	output [2][]byte // partial stdout and stderr lines

	// Host state of the last callback, as proxy_get_status reports it.
	lastErr error
	host    instHost    // callouts, effective context (callout.go, hoststate.go)
	held    heldStreams // streams paused until a context resumes them (body.go)

	// memBytes is the linear memory's size after the last callback, for
	// the admin API: read off the instance while no callback can grow it.
	memBytes atomic.Uint32

	wasmrt.Slot // the pool's bookkeeping: pins, idle, broken
	closing     sync.Once

	dl wasmrt.Deadline // the running callback's deadline, when the module is instrumented
}

// instKey finds the instance from a host function's context.
type instKey struct{}

// instanceOf returns the instance a host function was called for.
func instanceOf(ctx context.Context) *instance {
	in, _ := ctx.Value(instKey{}).(*instance)
	return in
}

// newInstance instantiates the module, runs its initialization and the
// root context's vm_start and configure, all within StartTimeout.
func (p *Plugin) newInstance(ctx context.Context) (in *instance, err error) {
	start := time.Now()
	in = &instance{p: p, nextID: rootID + 1}
	self := in // in is nil in the deferred func when an error is returned
	// Held until the instance is configured: background work (ticks, queue
	// and callout deliveries) started by its configuration waits for it.
	in.mu.Lock()
	defer in.mu.Unlock()
	// An instrumented module checks its own deadline (interrupt.go); else
	// wazero watches the context (WithCloseOnContextDone) unless disabled.
	in.ctx = wasmrt.NewCallCtx(instKey{}, in, !p.opts.NoCloseOnContextDone && !p.instrumented)
	in.dl.Begin(p.opts.StartTimeout) // the whole start-up is one deadline
	startLogs := &startLog{}
	sctx, cancel := context.WithTimeout(context.WithValue(context.WithValue(wasmrt.WithLinearMemory(ctx), instKey{}, in), startLogKey{}, startLogs), p.opts.StartTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("instantiating: host panic: %v", r)
		}
		if err != nil {
			p.stats.failures.Add(1)
			self.MarkBroken()
			if self.mod != nil {
				_ = self.mod.Close(context.Background())
			}
			in = nil
		}
	}()
	name := p.name + "#" + strconv.FormatUint(p.seq.Add(1), 10)
	cfg := wazero.NewModuleConfig().WithName(name).WithStartFunctions() // we call them, under the deadline
	in.mod, err = p.rt.InstantiateModule(sctx, p.compiled, cfg)
	if err != nil {
		return nil, fmt.Errorf("instantiating: %w", wasmrt.DescribeErr(err, sctx))
	}
	in.mem = in.mod.Memory()
	if in.mem != nil {
		in.memBytes.Store(in.mem.Size())
	}
	for i := range in.fns {
		if f := in.mod.ExportedFunction(callbackNames[i]); f != nil {
			in.fns[i] = f
			in.params[i] = len(f.Definition().ParamTypes())
		}
	}
	if in.alloc = in.mod.ExportedFunction("malloc"); in.alloc == nil {
		in.alloc = in.mod.ExportedFunction("proxy_on_memory_allocate")
	}
	if a := in.alloc; a != nil && (len(a.Definition().ParamTypes()) != 1 || len(a.Definition().ResultTypes()) != 1) {
		return nil, errors.New("the allocator must take one i32 and return one i32")
	}
	// Reactor modules (_initialize, then main if exported) or a command's _start.
	if f := in.mod.ExportedFunction("_initialize"); f != nil {
		if _, err = f.Call(sctx); err != nil {
			return nil, fmt.Errorf("_initialize: %w", wasmrt.DescribeErr(err, sctx))
		}
		if m := in.mod.ExportedFunction("main"); m != nil && len(m.Definition().ParamTypes()) == 0 {
			if _, err = m.Call(sctx); err != nil {
				return nil, fmt.Errorf("main: %w", wasmrt.DescribeErr(err, sctx))
			}
		}
	} else if f := in.mod.ExportedFunction("_start"); f != nil {
		if _, err = f.Call(sctx); err != nil && !wasmrt.IsExit0(err) {
			return nil, fmt.Errorf("_start: %w", wasmrt.DescribeErr(err, sctx))
		}
	}
	if p.abi == abiHTTPWasm { // no root context: handle_request is all
		p.stats.instancesCreated.Add(1)
		return in, nil
	}
	// One root context per live configuration (roots.go); the first also
	// runs proxy_on_vm_start.
	for i, r := range p.liveRoots() {
		if err = in.startRoot(sctx, r, i == 0, startLogs); err != nil {
			return nil, err
		}
	}
	p.stats.instancesCreated.Add(1)
	p.logger.Debug("wasm instance created", "instance", name, "took", time.Since(start))
	return in, nil
}

// call runs one callback under the per-callback deadline. It returns the
// callback's result (0 if it returns nothing). Callers hold in.mu.
func (in *instance) call(cb callback, args ...uint64) (uint64, error) {
	if in.Broken() {
		return 0, errBroken
	}
	d := in.p.opts.Timeout
	if in.p.instrumented {
		in.dl.Begin(d)
		r, err := in.callCtx(in.ctx, cb, args...)
		if err == nil && in.dl.Expired() {
			// The guest swallowed the check's exit (a nested call): the
			// instance is past its deadline all the same.
			err = wasmrt.ErrTimeout
		}
		return r, err
	}
	in.ctx.Arm(d)
	r, err := in.callCtx(in.ctx, cb, args...)
	if !in.ctx.Disarm() && err == nil {
		// The deadline fired as the callback returned: the guest may
		// already be closed, so do not trust it again.
		err = fmt.Errorf("deadline of %s exceeded", d)
	}
	return r, err
}

// callCtx calls a cached export with as many of args as it takes (0.1-era
// callbacks take fewer), recovering any panic into an error.
func (in *instance) callCtx(ctx context.Context, cb callback, args ...uint64) (r uint64, err error) {
	f := in.fns[cb]
	if f == nil {
		return 0, nil
	}
	defer func() {
		if rec := recover(); rec != nil {
			err = fmt.Errorf("host panic in %s: %v", callbackNames[cb], rec)
		}
	}()
	n := in.params[cb]
	copy(in.stack[:n], args)
	err = f.CallWithStack(ctx, in.stack[:])
	if in.mem != nil {
		in.memBytes.Store(in.mem.Size())
	}
	if len(in.output[0])+len(in.output[1]) > 0 {
		in.flushOutput(ctx)
	}
	if err != nil {
		return 0, wasmrt.DescribeErr(err, ctx)
	}
	return in.stack[0], nil
}

// allocate asks the guest for size bytes (malloc, else
// proxy_on_memory_allocate) from inside a host function.
func (in *instance) allocate(ctx context.Context, size uint32) (uint32, bool) {
	in.astack[0] = uint64(size)
	if err := in.alloc.CallWithStack(ctx, in.astack[:]); err != nil {
		in.lastErr = err
		return 0, false
	}
	ptr := uint32(in.astack[0])
	if ptr == 0 && size > 0 {
		return 0, false
	}
	return ptr, true
}

// PoolSlot implements wasmrt.Member.
func (in *instance) PoolSlot() *wasmrt.Slot { return &in.Slot }

// Close implements wasmrt.Member: the module is closed once.
func (in *instance) Close() {
	in.closing.Do(func() {
		_ = in.mod.Close(context.Background())
	})
}

var errBroken = errors.New("the instance failed earlier in this exchange")

// deadlineOf finds the instance's deadline for the instrumentation's check.
func deadlineOf(ctx context.Context) *wasmrt.Deadline {
	if in := instanceOf(ctx); in != nil {
		return &in.dl
	}
	return nil
}
