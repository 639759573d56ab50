package wasm

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/tetratelabs/wazero"

	"github.com/wasmgate/wasmgate/core/filter"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/httpwasm"
	"github.com/wasmgate/wasmgate/filters/wasm/internal/proxywasm"
)

// The glue of the http-wasm ABI (internal/httpwasm): which ABI a module
// speaks, the route filter's calls of handle_request and handle_response
// on the plugin's pool, limits and failure policies, and httpwasm.Host on
// an instance. handle_request runs per exchange (bit 0 of the result:
// call the next handler; the high 32 bits: a context value for
// handle_response), handle_response(ctx, is_error) if it did.

// abiKind is the ABI a module speaks, told from its imports.
type abiKind uint8

const (
	abiProxyWasm abiKind = iota
	abiHTTPWasm
)

func detectABI(m wazero.CompiledModule) abiKind {
	if httpwasm.Imports(m) {
		return abiHTTPWasm
	}
	return abiProxyWasm
}

// hwInit holds the features enabled during initialization (every
// instance runs the same one): they apply to every exchange.
func (p *Plugin) hwInit() *atomic.Uint32 { return &p.host.hwInit }

// hwNeeds adds the bodies an http-wasm plugin buffers from its start.
func (p *Plugin) hwNeeds(n filter.Needs) filter.Needs {
	f := p.hwInit().Load()
	if f&(httpwasm.BufferRequest|httpwasm.BufferResponse) == 0 {
		return n
	}
	n.RequestBody = n.RequestBody || f&httpwasm.BufferRequest != 0
	n.ResponseBody = n.ResponseBody || f&httpwasm.BufferResponse != 0
	n.MaxBody = p.opts.MaxBody
	return n
}

// hwRequest runs handle_request. Callers hold in.mu with in.cur == s.
func (in *instance) hwRequest(s *stream) error {
	hw := &s.host.hw
	hw.Begin(in.p.hwInit().Load() | boolBits(s.f.needs.RequestBody, httpwasm.BufferRequest) | boolBits(s.f.needs.ResponseBody, httpwasm.BufferResponse))
	r, err := in.call(cbHandleRequest)
	if err != nil {
		return err
	}
	if local := hw.Handled(r); local != nil { // the guest answered (or accepts the empty 200)
		s.pw.Local = local
	}
	return nil
}

// hwResponse runs handle_response if handle_request asked for the next
// handler. is_error is 1 when the response is the gateway's own error. An
// exchange that enabled buffer_response for itself, on a route that
// streams responses, runs it at the body's end instead, when a body
// follows (eos false).
func (in *instance) hwResponse(s *stream, eos bool) error {
	hw := &s.host.hw
	if !hw.Next() || in.fns[cbHandleResponse] == nil {
		return nil
	}
	if !eos && hw.Features()&httpwasm.BufferResponse != 0 && !s.f.needs.ResponseBody && s.f.needs.StreamResponseBody {
		hw.Defer()
		return nil
	}
	resp := s.x.Response
	isErr := resp != nil && resp.Local && resp.Status >= 500
	_, err := in.call(cbHandleResponse, hw.EnterResponse(), b2u(isErr))
	return err
}

func boolBits(b bool, bit uint32) uint32 {
	if b {
		return bit
	}
	return 0
}

// hwSupported is what enable_features may turn on for an exchange of this
// route: request buffering always (the host reads the body into memory),
// response buffering where the route buffers responses or, for a guest
// with handle_response, streams them (the exchange that asks buffers its
// own response; the others stream on).
func (f *Filter) hwSupported() uint32 {
	s := uint32(httpwasm.BufferRequest)
	if f.needs.ResponseBody || f.needs.StreamResponseBody {
		s |= httpwasm.BufferResponse
	}
	return s
}

// hwOnResponseBody buffers the response body of an exchange that enabled
// buffer_response in handle_request, and runs handle_response at its end
// with the whole body readable and writable; the status and headers are
// not sent yet (the chain holds them while a filter buffers). Every other
// exchange's body passes through untouched.
func (f *Filter) hwOnResponseBody(s *stream, b *filter.Body) (filter.BodyAction, *filter.Response) {
	hw := &s.host.hw
	if !hw.Deferred() {
		return filter.BodyContinue, nil
	}
	if !b.End {
		return filter.BodyBuffer, nil
	}
	resp := s.x.Response
	resp.Body = b.Buf
	if resp.Body == nil {
		resp.Body = []byte{}
	}
	in := s.in
	in.mu.Lock()
	in.cur = s
	_, err := in.call(cbHandleResponse, hw.EnterResponse(), 0)
	in.cur = nil
	in.mu.Unlock()
	if err != nil {
		return filter.BodyContinue, f.holdOrFail(s, "response", err)
	}
	b.Buf = resp.Body
	return filter.BodyContinue, nil
}

// hwHost is an instance as the http_handler functions see it
// (httpwasm.Host): a conversion, so finding it costs no allocation.
type hwHost instance

// hwHostOf finds the calling instance's httpwasm.Host.
func hwHostOf(ctx context.Context) httpwasm.Host {
	if in := instanceOf(ctx); in != nil {
		return (*hwHost)(in)
	}
	return nil
}

func (h *hwHost) Current() (*filter.Exchange, *httpwasm.Stream) {
	if s := h.cur; s != nil {
		return s.x, &s.host.hw
	}
	return nil, nil
}

func (h *hwHost) Supported() uint32 { return h.cur.f.hwSupported() }
func (h *hwHost) RequestEdited(key string) {
	if s := h.cur; s != nil {
		proxywasm.RequestEdited(s.x, key)
	}
}

func (h *hwHost) InitFeatures() *atomic.Uint32 { return h.p.hwInit() }
func (h *hwHost) Config() []byte               { return h.p.opts.Config }
func (h *hwHost) MaxBody() int64               { return h.p.opts.MaxBody }
func (h *hwHost) Scratch() *[]byte             { return &h.scr }
func (h *hwHost) LogEnabled(ctx context.Context, l slog.Level) bool {
	return h.p.logger.Enabled(ctx, l)
}

func (h *hwHost) Log(ctx context.Context, level string, l slog.Level, msg []byte) {
	(*instance)(h).guestLog(ctx, level, l, msg)
}
