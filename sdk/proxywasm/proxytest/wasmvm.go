//go:build !wasip1

package proxytest

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmgate/wasmgate/sdk/internal/abi"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

// WasmVMContext is a VMContext whose callbacks run in a compiled module.
type WasmVMContext interface {
	types.VMContext
	io.Closer
}

// compiled modules are shared by every NewWasmVMContext of a test binary:
// a Go guest takes a second or more to compile, and each test instantiates
// the same module afresh.
var wasmCache = wazero.NewCompilationCache()

// NewWasmVMContext returns a VMContext that runs the filter compiled in
// wasm (built with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared) and answers
// its host calls from the emulator, so the same test runs the filter both
// natively and as the module the gateway loads:
//
//	vm, err := proxytest.NewWasmVMContext(wasm)
//	defer vm.Close()
//	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().WithVMContext(vm))
//
// HTTP filters only, as upstream; the module's stdout and stderr go to the
// test's stderr.
func NewWasmVMContext(wasm []byte) (WasmVMContext, error) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(wasmCache))
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r); err != nil {
		r.Close(ctx)
		return nil, err
	}
	v := &wasmVM{runtime: r, ctx: ctx}
	if err := v.instantiateHost(); err != nil {
		r.Close(ctx)
		return nil, fmt.Errorf("proxytest: host module: %w", err)
	}
	code, err := r.CompileModule(ctx, wasm)
	if err != nil {
		r.Close(ctx)
		return nil, err
	}
	mod, err := r.InstantiateModule(ctx, code, wazero.NewModuleConfig().
		WithStartFunctions("_initialize", "_start").WithStdout(os.Stderr).WithStderr(os.Stderr))
	if err != nil {
		r.Close(ctx)
		return nil, err
	}
	v.mod = mod
	v.alloc = mod.ExportedFunction("malloc")
	if v.alloc == nil {
		v.alloc = mod.ExportedFunction("proxy_on_memory_allocate")
	}
	if v.alloc == nil {
		r.Close(ctx)
		return nil, fmt.Errorf("proxytest: the module exports neither malloc nor proxy_on_memory_allocate")
	}
	return v, nil
}

type wasmVM struct {
	runtime wazero.Runtime
	ctx     context.Context
	mod     api.Module
	alloc   api.Function
	mu      sync.Mutex
	exports map[string]api.Function
}

// call runs an export; a trap fails the test loudly, as upstream's runner does.
func (v *wasmVM) call(name string, args ...uint64) uint64 {
	v.mu.Lock()
	if v.exports == nil {
		v.exports = map[string]api.Function{}
	}
	f, ok := v.exports[name]
	if !ok {
		f = v.mod.ExportedFunction(name)
		v.exports[name] = f
	}
	v.mu.Unlock()
	if f == nil {
		return 0 // an export the module leaves out: the host would skip it too
	}
	res, err := f.Call(v.ctx, args...)
	if err != nil {
		panic(fmt.Sprintf("proxytest: %s trapped: %v", name, err))
	}
	if len(res) == 0 {
		return 0
	}
	return res[0]
}

func (v *wasmVM) Close() error { return v.runtime.Close(v.ctx) }

func (v *wasmVM) OnVMStart(vmConfigurationSize int) types.OnVMStartStatus {
	return v.call("proxy_on_vm_start", uint64(PluginContextID), uint64(vmConfigurationSize)) != 0
}

func (v *wasmVM) NewPluginContext(id uint32) types.PluginContext {
	v.call("proxy_on_context_create", uint64(id), 0)
	return &wasmPlugin{vm: v, id: uint64(id)}
}

type wasmPlugin struct {
	vm *wasmVM
	id uint64
}

func (p *wasmPlugin) OnPluginStart(size int) types.OnPluginStartStatus {
	return p.vm.call("proxy_on_configure", p.id, uint64(size)) != 0
}
func (p *wasmPlugin) OnPluginDone() bool { return p.vm.call("proxy_on_done", p.id) != 0 }
func (p *wasmPlugin) OnQueueReady(queueID uint32) {
	p.vm.call("proxy_on_queue_ready", p.id, uint64(queueID))
}
func (p *wasmPlugin) OnTick() { p.vm.call("proxy_on_tick", p.id) }

func (p *wasmPlugin) OnHttpCallResponse(calloutID uint32, numHeaders, bodySize, numTrailers int) {
	p.vm.call("proxy_on_http_call_response", p.id, uint64(calloutID), uint64(numHeaders), uint64(bodySize), uint64(numTrailers))
}

func (p *wasmPlugin) NewHttpContext(id uint32) types.HttpContext {
	p.vm.call("proxy_on_context_create", uint64(id), p.id)
	return &wasmStream{vm: p.vm, id: uint64(id)}
}

func (p *wasmPlugin) NewTcpContext(uint32) types.TcpContext { return nil }

type wasmStream struct {
	vm *wasmVM
	id uint64
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func (s *wasmStream) OnHttpRequestHeaders(n int, eos bool) types.Action {
	return types.Action(s.vm.call("proxy_on_request_headers", s.id, uint64(n), b2u(eos)))
}
func (s *wasmStream) OnHttpRequestBody(size int, eos bool) types.Action {
	return types.Action(s.vm.call("proxy_on_request_body", s.id, uint64(size), b2u(eos)))
}
func (s *wasmStream) OnHttpRequestTrailers(n int) types.Action {
	return types.Action(s.vm.call("proxy_on_request_trailers", s.id, uint64(n)))
}
func (s *wasmStream) OnHttpResponseHeaders(n int, eos bool) types.Action {
	return types.Action(s.vm.call("proxy_on_response_headers", s.id, uint64(n), b2u(eos)))
}
func (s *wasmStream) OnHttpResponseBody(size int, eos bool) types.Action {
	return types.Action(s.vm.call("proxy_on_response_body", s.id, uint64(size), b2u(eos)))
}
func (s *wasmStream) OnHttpResponseTrailers(n int) types.Action {
	return types.Action(s.vm.call("proxy_on_response_trailers", s.id, uint64(n)))
}

// OnHttpStreamDone ends the stream inside the module as a host does: done,
// log, delete.
func (s *wasmStream) OnHttpStreamDone() {
	s.vm.call("proxy_on_done", s.id)
	s.vm.call("proxy_on_log", s.id)
	s.vm.call("proxy_on_delete", s.id)
}

// The module's host calls, forwarded to the installed emulator.

const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

type guestMem struct {
	v   *wasmVM
	ctx context.Context
	mod api.Module
	bad bool // an out-of-range pointer was seen: the call answers INVALID_MEMORY_ACCESS
}

func (g *guestMem) bytes(ptr, size uint64) []byte {
	if size == 0 {
		return nil
	}
	b, ok := g.mod.Memory().Read(uint32(ptr), uint32(size))
	if !ok {
		g.bad = true
		return nil
	}
	return append([]byte(nil), b...)
}

func (g *guestMem) str(ptr, size uint64) string { return string(g.bytes(ptr, size)) }

func (g *guestMem) u32(ptr uint64, v uint32) {
	if !g.mod.Memory().WriteUint32Le(uint32(ptr), v) {
		g.bad = true
	}
}

func (g *guestMem) u64(ptr uint64, v uint64) {
	if !g.mod.Memory().WriteUint64Le(uint32(ptr), v) {
		g.bad = true
	}
}

// give copies data into memory the guest allocates and writes its address
// and size to the return slots.
func (g *guestMem) give(data []byte, retData, retSize uint64) {
	var addr uint32
	if len(data) > 0 {
		res, err := g.v.alloc.Call(g.ctx, uint64(len(data)))
		if err != nil {
			panic(fmt.Sprintf("proxytest: the guest's allocator trapped: %v", err))
		}
		addr = uint32(res[0])
		if !g.mod.Memory().Write(addr, data) {
			g.bad = true
			return
		}
	}
	g.u32(retData, addr)
	g.u32(retSize, uint32(len(data)))
}

func (g *guestMem) status(st types.Status) uint64 {
	if g.bad {
		return uint64(types.StatusInvalidMemoryAccess)
	}
	return uint64(st)
}

// hostFunc is one import: its parameter types and what it does with them.
type hostFunc struct {
	params []api.ValueType
	fn     func(g *guestMem, h abi.Host, p []uint64) types.Status
}

func params(n int) []api.ValueType {
	p := make([]api.ValueType, n)
	for i := range p {
		p[i] = i32
	}
	return p
}

var hostFuncs = map[string]hostFunc{
	"proxy_log": {params(3), func(g *guestMem, h abi.Host, p []uint64) types.Status {
		return h.Log(types.LogLevel(p[0]), g.str(p[1], p[2]))
	}},
	"proxy_get_log_level": {params(1), func(g *guestMem, h abi.Host, p []uint64) types.Status {
		l, st := h.GetLogLevel()
		g.u32(p[0], uint32(l))
		return st
	}},
	"proxy_get_current_time_nanoseconds": {params(1), func(g *guestMem, h abi.Host, p []uint64) types.Status {
		t, st := h.GetCurrentTimeNanoseconds()
		g.u64(p[0], t)
		return st
	}},
	"proxy_set_tick_period_milliseconds": {params(1), func(g *guestMem, h abi.Host, p []uint64) types.Status {
		return h.SetTickPeriodMilliseconds(uint32(p[0]))
	}},
	"proxy_get_header_map_value": {params(5), func(g *guestMem, h abi.Host, p []uint64) types.Status {
		v, st := h.GetHeaderMapValue(types.MapType(p[0]), g.str(p[1], p[2]))
		if st == types.StatusOK {
			g.give(v, p[3], p[4])
		}
		return st
	}},
	"proxy_add_header_map_value": {params(5), func(g *guestMem, h abi.Host, p []uint64) types.Status {
		return h.AddHeaderMapValue(types.MapType(p[0]), g.str(p[1], p[2]), g.str(p[3], p[4]))
	}},
	"proxy_replace_header_map_value": {params(5), func(g *guestMem, h abi.Host, p []uint64) types.Status {
		return h.ReplaceHeaderMapValue(types.MapType(p[0]), g.str(p[1], p[2]), g.str(p[3], p[4]))
	}},
	"proxy_remove_header_map_value": {params(3), func(g *guestMem, h abi.Host, p []uint64) types.Status {
		return h.RemoveHeaderMapValue(types.MapType(p[0]), g.str(p[1], p[2]))
	}},
	"proxy_get_header_map_pairs": {params(3), func(g *guestMem, h abi.Host, p []uint64) types.Status {
		v, st := h.GetHeaderMapPairs(types.MapType(p[0]))
		if st == types.StatusOK {
			g.give(v, p[1], p[2])
		}
		return st
	}},
	"proxy_set_header_map_pairs": {params(3), func(g *guestMem, h abi.Host, p []uint64) types.Status {
		return h.SetHeaderMapPairs(types.MapType(p[0]), g.bytes(p[1], p[2]))
	}},
	"proxy_get_header_map_size": {params(2), func(g *guestMem, h abi.Host, p []uint64) types.Status {
		n, st := h.GetHeaderMapSize(types.MapType(p[0]))
		g.u32(p[1], n)
		return st
	}},
	"proxy_get_buffer_bytes": {params(5), func(g *guestMem, h abi.Host, p []uint64) types.Status {
		v, st := h.GetBufferBytes(types.BufferType(p[0]), uint32(p[1]), uint32(p[2]))
		if st == types.StatusOK {
			g.give(v, p[3], p[4])
		}
		return st
	}},
	"proxy_set_buffer_bytes": {params(5), func(g *guestMem, h abi.Host, p []uint64) types.Status {
		return h.SetBufferBytes(types.BufferType(p[0]), uint32(p[1]), uint32(p[2]), g.bytes(p[3], p[4]))
	}},
	"proxy_get_buffer_status": {params(3), func(g *guestMem, h abi.Host, p []uint64) types.Status {
		n, st := h.GetBufferStatus(types.BufferType(p[0]))
		g.u32(p[1], n)
		g.u32(p[2], 0)
		return st
	}},
	"proxy_send_local_response": {params(8), func(g *guestMem, h abi.Host, p []uint64) types.Status {
		return h.SendLocalResponse(uint32(p[0]), g.str(p[1], p[2]), g.bytes(p[3], p[4]), g.bytes(p[5], p[6]), int32(uint32(p[7])))
	}},
	"proxy_continue_stream": {params(1), func(g *guestMem, h abi.Host, p []uint64) types.Status {
		return h.ContinueStream(types.StreamType(p[0]))
	}},
	"proxy_close_stream": {params(1), func(g *guestMem, h abi.Host, p []uint64) types.Status {
		return h.CloseStream(types.StreamType(p[0]))
	}},
	"proxy_get_property": {params(4), func(g *guestMem, h abi.Host, p []uint64) types.Status {
		v, st := h.GetProperty(g.bytes(p[0], p[1]))
		if st == types.StatusOK {
			g.give(v, p[2], p[3])
		}
		return st
	}},
	"proxy_set_property": {params(4), func(g *guestMem, h abi.Host, p []uint64) types.Status {
		return h.SetProperty(g.bytes(p[0], p[1]), g.bytes(p[2], p[3]))
	}},
	"proxy_http_call": {params(10), func(g *guestMem, h abi.Host, p []uint64) types.Status {
		id, st := h.HttpCall(g.str(p[0], p[1]), g.bytes(p[2], p[3]), g.bytes(p[4], p[5]), g.bytes(p[6], p[7]), uint32(p[8]))
		g.u32(p[9], id)
		return st
	}},
	"proxy_set_effective_context": {params(1), func(g *guestMem, h abi.Host, p []uint64) types.Status {
		return h.SetEffectiveContext(uint32(p[0]))
	}},
	"proxy_done": {nil, func(g *guestMem, h abi.Host, p []uint64) types.Status { return h.Done() }},
	"proxy_call_foreign_function": {params(6), func(g *guestMem, h abi.Host, p []uint64) types.Status {
		v, st := h.CallForeignFunction(g.str(p[0], p[1]), g.bytes(p[2], p[3]))
		if st == types.StatusOK {
			g.give(v, p[4], p[5])
		}
		return st
	}},
	"proxy_get_shared_data": {params(5), func(g *guestMem, h abi.Host, p []uint64) types.Status {
		v, cas, st := h.GetSharedData(g.str(p[0], p[1]))
		if st == types.StatusOK {
			g.give(v, p[2], p[3])
			g.u32(p[4], cas)
		}
		return st
	}},
	"proxy_set_shared_data": {params(5), func(g *guestMem, h abi.Host, p []uint64) types.Status {
		return h.SetSharedData(g.str(p[0], p[1]), g.bytes(p[2], p[3]), uint32(p[4]))
	}},
	"proxy_register_shared_queue": {params(3), func(g *guestMem, h abi.Host, p []uint64) types.Status {
		id, st := h.RegisterSharedQueue(g.str(p[0], p[1]))
		g.u32(p[2], id)
		return st
	}},
	"proxy_resolve_shared_queue": {params(5), func(g *guestMem, h abi.Host, p []uint64) types.Status {
		id, st := h.ResolveSharedQueue(g.str(p[0], p[1]), g.str(p[2], p[3]))
		g.u32(p[4], id)
		return st
	}},
	"proxy_enqueue_shared_queue": {params(3), func(g *guestMem, h abi.Host, p []uint64) types.Status {
		return h.EnqueueSharedQueue(uint32(p[0]), g.bytes(p[1], p[2]))
	}},
	"proxy_dequeue_shared_queue": {params(3), func(g *guestMem, h abi.Host, p []uint64) types.Status {
		v, st := h.DequeueSharedQueue(uint32(p[0]))
		if st == types.StatusOK {
			g.give(v, p[1], p[2])
		}
		return st
	}},
	"proxy_define_metric": {params(4), func(g *guestMem, h abi.Host, p []uint64) types.Status {
		id, st := h.DefineMetric(types.MetricType(p[0]), g.str(p[1], p[2]))
		g.u32(p[3], id)
		return st
	}},
	"proxy_increment_metric": {[]api.ValueType{i32, i64}, func(g *guestMem, h abi.Host, p []uint64) types.Status {
		return h.IncrementMetric(uint32(p[0]), int64(p[1]))
	}},
	"proxy_record_metric": {[]api.ValueType{i32, i64}, func(g *guestMem, h abi.Host, p []uint64) types.Status {
		return h.RecordMetric(uint32(p[0]), p[1])
	}},
	"proxy_get_metric": {params(2), func(g *guestMem, h abi.Host, p []uint64) types.Status {
		n, st := h.GetMetric(uint32(p[0]))
		g.u64(p[1], n)
		return st
	}},
}

func (v *wasmVM) instantiateHost() error {
	b := v.runtime.NewHostModuleBuilder("env")
	for name, hf := range hostFuncs {
		b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
			h := abi.Current()
			if h == nil {
				panic("proxytest: " + name + " called with no emulator; create one with NewHostEmulator")
			}
			g := &guestMem{v: v, ctx: ctx, mod: mod}
			st := hf.fn(g, h, stack[:len(hf.params)])
			stack[0] = g.status(st)
		}), hf.params, []api.ValueType{i32}).Export(name)
	}
	_, err := b.Instantiate(v.ctx)
	return err
}
