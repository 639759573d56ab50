package wasm

import (
	"context"
	"log/slog"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/wasm/guestmetric"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/proxywasm"
)

// The glue of the Proxy-Wasm ABI (internal/proxywasm): its host functions
// in this package's host-function form (with WASI's, output.go), and
// proxywasm.Host on an instance. The callbacks, root contexts, holds,
// callouts and ticks they reach through Host are this package's.

// hostFunc is one host function: its Wasm signature and implementation.
// Implementations read their i32 arguments from stack and write the status
// to stack[0]; every guest pointer is checked before use.
type hostFunc struct {
	params  string // one letter per parameter: i for i32, I for i64
	results string // "" or "i"
	fn      func(ctx context.Context, in *instance, mem api.Memory, a []uint64) proxywasm.Status
}

// envFuncs are the Proxy-Wasm host functions (module env):
// internal/proxywasm's, on the instance's proxywasm.Host. Imports from
// env not listed, or with another signature, answer UNIMPLEMENTED.
var envFuncs = func() map[string]hostFunc {
	m := make(map[string]hostFunc, len(proxywasm.Funcs))
	for name, f := range proxywasm.Funcs {
		m[name] = abiFunc(f)
	}
	return m
}()

// pwHost is an instance as internal/proxywasm's host functions see it
// (proxywasm.Host): a conversion, so finding it costs no allocation.
type pwHost instance

// abiFunc adapts a host function of internal/proxywasm to the instance.
func abiFunc(f proxywasm.Func) hostFunc {
	fn := f.Fn
	return hostFunc{f.Params, f.Results, func(ctx context.Context, in *instance, mem api.Memory, a []uint64) proxywasm.Status {
		return fn(ctx, (*pwHost)(in), mem, a)
	}}
}

func (h *pwHost) Allocate(ctx context.Context, size uint32) (uint32, bool) {
	return (*instance)(h).allocate(ctx, size)
}

func (h *pwHost) Log(ctx context.Context, level string, l slog.Level, msg []byte) {
	(*instance)(h).guestLog(ctx, level, l, msg)
}

func (h *pwHost) Current() (*filter.Exchange, *proxywasm.Stream) {
	if s := h.cur; s != nil {
		return s.x, &s.pw
	}
	return nil, nil
}

// Delivering is the callout response being delivered, unless it failed.
func (h *pwHost) Delivering() *proxywasm.CallResponse {
	if c := h.host.delivering; c != nil && c.err == nil {
		return &c.resp
	}
	return nil
}

func (h *pwHost) Scratch() *[]byte { return &h.scr }

// PluginConfig is the configuration of the running context's root.
func (h *pwHost) PluginConfig() []byte {
	if r := (*instance)(h).curRoot(); r != nil {
		return r.config
	}
	return h.p.opts.Config
}

func (h *pwHost) VMConfig() []byte { return h.p.opts.VMConfig }
func (h *pwHost) MaxBody() int64   { return h.p.opts.MaxBody }

func (h *pwHost) Bodies(request bool) bool {
	if request {
		return h.p.opts.RequestBody
	}
	return h.p.opts.ResponseBody
}

func (h *pwHost) Wake() {
	if s := h.cur; s != nil {
		s.wakeUp()
	}
}

func (h *pwHost) PluginName() string            { return h.p.name }
func (h *pwHost) RootID() string                { return h.p.opts.RootID }
func (h *pwHost) Logger() *slog.Logger          { return h.p.logger }
func (h *pwHost) VMID() string                  { return h.p.opts.VMID }
func (h *pwHost) Shared() proxywasm.SharedStore { return h.p.host.shared }
func (h *pwHost) Metrics() *guestmetric.Set     { return h.p.host.metrics }

// QueueReady implements proxywasm.Host: proxy_on_queue_ready on the
// instance's newest root context (the configuration in force); false if
// the plugin is closing.
func (h *pwHost) QueueReady(id uint32) bool {
	owner := (*instance)(h)
	p := owner.p
	if !p.host.enter() {
		return false
	}
	p.onRoot(owner, func() error {
		r := owner.newestRoot() // the configuration in force
		if r == nil {
			return nil
		}
		owner.root = r
		_, err := owner.call(proxywasm.OnQueueReady, uint64(r.id), uint64(id))
		return err
	})
	p.host.exit()
	return true
}

// unregisterQueues forgets a closing plugin's instances as queue owners.
func unregisterQueues(p *Plugin) {
	proxywasm.ForgetQueueOwners(func(h proxywasm.Host) bool { return (*instance)(h.(*pwHost)).p == p })
}

// Resume implements proxywasm.Host (proxy_continue_stream and friends).
func (h *pwHost) Resume() {
	if s := h.cur; s != nil {
		s.resume()
	}
}

// SetEffectiveContext implements proxywasm.Host: the callback goes on as
// context id, a stream or a root context of this instance, if it may.
func (h *pwHost) SetEffectiveContext(id uint32) bool {
	in := (*instance)(h)
	// A held stream of this instance may be resumed from any of its
	// contexts (body.go); and left again for the root context.
	if t := in.heldStream(id); t != nil {
		in.cur = t
		return true
	}
	if r := in.rootByID(id); r != nil && in.cur != nil && in.cur.body.held {
		in.cur, in.root = nil, r
		return true
	}
	if c := in.host.delivering; c != nil {
		// A callout response runs in the root context; the guest may switch
		// to the stream that dispatched it, and back.
		switch {
		case id == c.root.id:
			in.cur = nil
			return true
		case c.owner != nil && c.owner.id == id:
			in.cur = c.owner
			return true
		}
		return false
	}
	if in.cur != nil && in.cur.id == id {
		return true
	}
	if r := in.rootByID(id); r != nil {
		if in.cur == nil {
			in.root = r
		}
		return true
	}
	return false
}
