// Package vmstate keeps the guest's contexts and routes every Proxy-Wasm
// callback to the context it names. The wasip1 build exports the callbacks
// (exports_wasip1.go); proxytest calls the same functions natively.
package vmstate

import (
	"github.com/wasmgate/wasmgate/sdk/internal/abi"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

type plugin struct {
	ctx      types.PluginContext
	callouts map[uint32]callout
}

type callout struct {
	contextID uint32 // the context that dispatched the call; made effective again for the callback
	fn        func(numHeaders, bodySize, numTrailers int)
}

type stream struct {
	root uint32
	http types.HttpContext
	tcp  types.TcpContext
}

var (
	registered types.VMContext // what the filter's init function registered
	vm         types.VMContext // what runs: registered, or proxytest's choice
	plugins    = map[uint32]*plugin{}
	streams    = map[uint32]*stream{}
	active     uint32
	// Epoch changes on every callback, so a value cached during one callback
	// (the host's log level) is fetched again in the next.
	Epoch uint64
)

// SetVMContext registers the filter; call it from an init function.
func SetVMContext(ctx types.VMContext) { registered, vm = ctx, ctx }

// Use runs ctx instead of the registered filter until the next Reset
// (proxytest's WithVMContext).
func Use(ctx types.VMContext) { vm = ctx }

// Reset forgets every context and goes back to the registered filter
// (proxytest, between tests).
func Reset() {
	vm = registered
	clear(plugins)
	clear(streams)
	active = 0
	Epoch++
}

// ActiveContextID is the context whose callback is running, or the one
// made effective since.
func ActiveContextID() uint32 { return active }

// SetEffective records a successful proxy_set_effective_context: callouts
// dispatched next belong to that context.
func SetEffective(id uint32) { active = id }

// RegisterCallout remembers the callback of an HTTP call dispatched from the
// running context; its response arrives at the owning plugin context.
func RegisterCallout(calloutID uint32, fn func(numHeaders, bodySize, numTrailers int)) {
	root := active
	if s, ok := streams[active]; ok {
		root = s.root
	}
	if p, ok := plugins[root]; ok {
		p.callouts[calloutID] = callout{contextID: active, fn: fn}
	}
}

func enter(id uint32) {
	active = id
	Epoch++
}

func OnContextCreate(id, parent uint32) {
	enter(id)
	if parent == 0 {
		if vm == nil {
			abi.Log(types.LogLevelCritical, "proxywasm: no VM context; call proxywasm.SetVMContext from an init function")
			return
		}
		plugins[id] = &plugin{ctx: vm.NewPluginContext(id), callouts: map[uint32]callout{}}
		return
	}
	p, ok := plugins[parent]
	if !ok {
		return
	}
	if h := p.ctx.NewHttpContext(id); h != nil {
		streams[id] = &stream{root: parent, http: h}
		return
	}
	if t := p.ctx.NewTcpContext(id); t != nil {
		streams[id] = &stream{root: parent, tcp: t}
	}
}

func OnVMStart(root uint32, vmConfigSize int) bool {
	enter(root)
	if vm == nil {
		return false
	}
	return bool(vm.OnVMStart(vmConfigSize))
}

func OnConfigure(root uint32, pluginConfigSize int) bool {
	enter(root)
	p, ok := plugins[root]
	if !ok {
		return false
	}
	return bool(p.ctx.OnPluginStart(pluginConfigSize))
}

func httpCtx(id uint32) types.HttpContext {
	enter(id)
	if s, ok := streams[id]; ok {
		return s.http
	}
	return nil
}

func OnRequestHeaders(id uint32, n int, eos bool) types.Action {
	if h := httpCtx(id); h != nil {
		return h.OnHttpRequestHeaders(n, eos)
	}
	return types.ActionContinue
}

func OnRequestBody(id uint32, size int, eos bool) types.Action {
	if h := httpCtx(id); h != nil {
		return h.OnHttpRequestBody(size, eos)
	}
	return types.ActionContinue
}

func OnRequestTrailers(id uint32, n int) types.Action {
	if h := httpCtx(id); h != nil {
		return h.OnHttpRequestTrailers(n)
	}
	return types.ActionContinue
}

func OnResponseHeaders(id uint32, n int, eos bool) types.Action {
	if h := httpCtx(id); h != nil {
		return h.OnHttpResponseHeaders(n, eos)
	}
	return types.ActionContinue
}

func OnResponseBody(id uint32, size int, eos bool) types.Action {
	if h := httpCtx(id); h != nil {
		return h.OnHttpResponseBody(size, eos)
	}
	return types.ActionContinue
}

func OnResponseTrailers(id uint32, n int) types.Action {
	if h := httpCtx(id); h != nil {
		return h.OnHttpResponseTrailers(n)
	}
	return types.ActionContinue
}

func tcpCtx(id uint32) types.TcpContext {
	enter(id)
	if s, ok := streams[id]; ok {
		return s.tcp
	}
	return nil
}

func OnNewConnection(id uint32) types.Action {
	if t := tcpCtx(id); t != nil {
		return t.OnNewConnection()
	}
	return types.ActionContinue
}

func OnDownstreamData(id uint32, size int, eos bool) types.Action {
	if t := tcpCtx(id); t != nil {
		return t.OnDownstreamData(size, eos)
	}
	return types.ActionContinue
}

func OnDownstreamClose(id uint32, peer types.PeerType) {
	if t := tcpCtx(id); t != nil {
		t.OnDownstreamClose(peer)
	}
}

func OnUpstreamData(id uint32, size int, eos bool) types.Action {
	if t := tcpCtx(id); t != nil {
		return t.OnUpstreamData(size, eos)
	}
	return types.ActionContinue
}

func OnUpstreamClose(id uint32, peer types.PeerType) {
	if t := tcpCtx(id); t != nil {
		t.OnUpstreamClose(peer)
	}
}

// OnDone: streams are always done at once; plugin contexts may ask for time.
func OnDone(id uint32) bool {
	enter(id)
	if p, ok := plugins[id]; ok {
		return p.ctx.OnPluginDone()
	}
	return true
}

func OnLog(id uint32) {
	enter(id)
	if s, ok := streams[id]; ok {
		if s.http != nil {
			s.http.OnHttpStreamDone()
		} else if s.tcp != nil {
			s.tcp.OnStreamDone()
		}
	}
}

func OnDelete(id uint32) {
	enter(id)
	delete(streams, id)
	delete(plugins, id)
}

func OnTick(root uint32) {
	enter(root)
	if p, ok := plugins[root]; ok {
		p.ctx.OnTick()
	}
}

func OnQueueReady(root, queueID uint32) {
	enter(root)
	if p, ok := plugins[root]; ok {
		p.ctx.OnQueueReady(queueID)
	}
}

// CalloutReceiver is a plugin context that routes callout responses itself:
// proxytest's stand-in for a compiled module, whose callbacks live in the
// module.
type CalloutReceiver interface {
	OnHttpCallResponse(calloutID uint32, numHeaders, bodySize, numTrailers int)
}

func OnHttpCallResponse(root, calloutID uint32, numHeaders, bodySize, numTrailers int) {
	enter(root)
	p, ok := plugins[root]
	if !ok {
		return
	}
	if r, ok := p.ctx.(CalloutReceiver); ok {
		r.OnHttpCallResponse(calloutID, numHeaders, bodySize, numTrailers)
		return
	}
	c, ok := p.callouts[calloutID]
	if !ok {
		return
	}
	delete(p.callouts, calloutID)
	if c.contextID != root {
		if _, live := streams[c.contextID]; !live {
			return // the stream ended before the response came back
		}
		abi.SetEffectiveContext(c.contextID)
		active = c.contextID
	}
	c.fn(numHeaders, bodySize, numTrailers)
}
