package wasm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/core/filter"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/wasmrt"
)

// The http-wasm handler ABI (http-wasm.io, module http_handler), the ABI of
// Traefik's and Dapr's Wasm middleware, as a second ABI beside Proxy-Wasm:
// a module importing from http_handler is one. It runs on the same pool,
// limits and failure policies: handle_request per exchange (bit 0 of the
// result: call the next handler; the high 32 bits: a context value for
// handle_response), handle_response(ctx, is_error) if it did. Getters take
// the guest's buffer and limit and return the value's length, writing
// nothing when it does not fit; host errors trap (the failure policy).

// abiKind is the ABI a module speaks, told from its imports.
type abiKind uint8

const (
	abiProxyWasm abiKind = iota
	abiHTTPWasm
)

const hwModule = "http_handler"

// http-wasm feature bits (enable_features).
const (
	hwBufferRequest  = 1
	hwBufferResponse = 2
	hwTrailers       = 4 // not supported: trailer getters answer empty, setters trap
)

// Header kinds and body kinds.
const (
	hwRequest          = 0
	hwResponse         = 1
	hwRequestTrailers  = 2
	hwResponseTrailers = 3
)

func detectABI(m wazero.CompiledModule) abiKind {
	for _, f := range m.ImportedFunctions() {
		if mod, _, _ := f.Import(); mod == hwModule {
			return abiHTTPWasm
		}
	}
	return abiProxyWasm
}

// validateHTTPWasm checks what an http-wasm guest must export and may import.
func validateHTTPWasm(m wazero.CompiledModule) error {
	exports := m.ExportedFunctions()
	hr, ok := exports["handle_request"]
	if !ok {
		return errors.New("http-wasm module (imports http_handler) does not export handle_request")
	}
	if len(hr.ParamTypes()) != 0 || len(hr.ResultTypes()) != 1 || hr.ResultTypes()[0] != api.ValueTypeI64 {
		return errors.New("http-wasm handle_request must take nothing and return an i64 (ctx<<32 | next)")
	}
	if hs, ok := exports["handle_response"]; ok && (!wasmrt.SigMatches(hs.ParamTypes(), "ii") || len(hs.ResultTypes()) != 0) {
		return errors.New("http-wasm handle_response must take (i32 ctx, i32 is_error) and return nothing")
	}
	if _, ok := m.ExportedMemories()["memory"]; !ok {
		return errors.New(`the module exports no memory named "memory"`)
	}
	for _, f := range m.ImportedFunctions() {
		mod, name, _ := f.Import()
		if mod != hwModule && mod != wasmrt.InterruptModule && mod != "wasi_snapshot_preview1" && mod != "wasi_unstable" {
			return fmt.Errorf("the module imports %s.%s; http-wasm modules may only import from http_handler and WASI", mod, name)
		}
	}
	if ms := m.ImportedMemories(); len(ms) > 0 {
		return errors.New("the module imports a memory; it must define and export its own")
	}
	return nil
}

// hwStream is an exchange's http-wasm state.
type hwStream struct {
	features   uint32           // enabled for this exchange (init features included)
	next       bool             // handle_request returned next=1
	ctx        uint32           // handle_request's context value, for handle_response
	resp       *filter.Response // the response handle_request writes (next=0)
	inResponse bool             // handle_response runs
	reqRead    int              // read_body offsets
	respRead   int
	reqWritten bool // write_body has replaced the body in this handler
	respWrote  bool
	// deferred: handle_response waits for the whole response body, which
	// this exchange asked to buffer (enable_features(buffer_response) in
	// handle_request) on a route that streams it (hwOnResponseBody).
	deferred bool
}

// hwInit holds the features enabled during initialization (every
// instance runs the same one): they apply to every exchange.
func (p *Plugin) hwInit() *atomic.Uint32 { return &p.host.hwInit }

// hwNeeds adds the bodies an http-wasm plugin buffers from its start.
func (p *Plugin) hwNeeds(n filter.Needs) filter.Needs {
	f := p.hwInit().Load()
	if f&(hwBufferRequest|hwBufferResponse) == 0 {
		return n
	}
	n.RequestBody = n.RequestBody || f&hwBufferRequest != 0
	n.ResponseBody = n.ResponseBody || f&hwBufferResponse != 0
	n.MaxBody = p.opts.MaxBody
	return n
}

// hwRequest runs handle_request. Callers hold in.mu with in.cur == s.
func (in *instance) hwRequest(s *stream) error {
	hw := &s.host.hw
	hw.features = in.p.hwInit().Load() | boolBits(s.f.needs.RequestBody, hwBufferRequest) | boolBits(s.f.needs.ResponseBody, hwBufferResponse)
	r, err := in.call(cbHandleRequest)
	if err != nil {
		return err
	}
	if r&1 == 0 { // the guest answered (or accepts the empty 200)
		resp := hw.response()
		resp.Local = true
		s.local = resp
		return nil
	}
	hw.next, hw.ctx = true, uint32(r>>32)
	return nil
}

// hwResponse runs handle_response if handle_request asked for the next
// handler. is_error is 1 when the response is the gateway's own error. An
// exchange that enabled buffer_response for itself, on a route that
// streams responses, runs it at the body's end instead, when a body
// follows (eos false).
func (in *instance) hwResponse(s *stream, eos bool) error {
	hw := &s.host.hw
	if !hw.next || in.fns[cbHandleResponse] == nil {
		return nil
	}
	if !eos && hw.features&hwBufferResponse != 0 && !s.f.needs.ResponseBody && s.f.needs.StreamResponseBody {
		hw.deferred = true
		return nil
	}
	resp := s.x.Response
	isErr := resp != nil && resp.Local && resp.Status >= 500
	hw.inResponse, hw.respWrote = true, false
	_, err := in.call(cbHandleResponse, uint64(hw.ctx), b2u(isErr))
	return err
}

func (hw *hwStream) response() *filter.Response {
	if hw.resp == nil {
		hw.resp = &filter.Response{Status: http.StatusOK, Header: http.Header{}, Body: []byte{}}
	}
	return hw.resp
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
	s := uint32(hwBufferRequest)
	if f.needs.ResponseBody || f.needs.StreamResponseBody {
		s |= hwBufferResponse
	}
	return s
}

// hwTrap makes a host error trap the guest: wazero turns the panic into the
// call's error, and the failure policy applies.
func hwTrap(format string, args ...any) { panic(fmt.Errorf("http_handler: "+format, args...)) }

type hwFunc struct {
	params, results string
	fn              func(ctx context.Context, in *instance, mem api.Memory, s *stream, a []uint64) uint64
	stream          bool // needs an exchange: trap without one
}

var hwFuncs = map[string]hwFunc{
	"enable_features":      {"i", "i", hwEnableFeatures, false},
	"get_config":           {"ii", "i", hwGetConfig, false},
	"log":                  {"iii", "", hwLog, false},
	"log_enabled":          {"i", "i", hwLogEnabled, false},
	"get_method":           {"ii", "i", hwGetMethod, true},
	"set_method":           {"ii", "", hwSetMethod, true},
	"get_uri":              {"ii", "i", hwGetURI, true},
	"set_uri":              {"ii", "", hwSetURI, true},
	"get_protocol_version": {"ii", "i", hwGetProto, true},
	"get_source_addr":      {"ii", "i", hwGetSourceAddr, true},
	"get_header_names":     {"iii", "I", hwGetHeaderNames, true},
	"get_header_values":    {"iiiii", "I", hwGetHeaderValues, true},
	"set_header_value":     {"iiiii", "", hwSetHeader, true},
	"add_header_value":     {"iiiii", "", hwAddHeader, true},
	"remove_header":        {"iii", "", hwRemoveHeader, true},
	"read_body":            {"iii", "I", hwReadBody, true},
	"write_body":           {"iii", "", hwWriteBody, true},
	"get_status_code":      {"", "i", hwGetStatus, true},
	"set_status_code":      {"i", "", hwSetStatus, true},
}

// hwModuleFunc is the host function for an http_handler import: ours if the
// signature matches, else one that traps when called.
func hwModuleFunc(name string, params, results []api.ValueType) api.GoModuleFunc {
	h, ok := hwFuncs[name]
	if !ok || !wasmrt.SigMatches(params, h.params) || !wasmrt.SigMatches(results, h.results) {
		return func(context.Context, api.Module, []uint64) {
			hwTrap("%s is not implemented with this signature", name)
		}
	}
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		in := instanceOf(ctx)
		if in == nil {
			hwTrap("%s called outside a plugin instance", name)
		}
		s := in.cur
		if h.stream && s == nil {
			hwTrap("%s called outside handle_request/handle_response", name)
		}
		r := h.fn(ctx, in, mod.Memory(), s, stack)
		if h.results != "" {
			stack[0] = r
		}
	}
}

// hwRead returns guest memory or traps.
func hwRead(mem api.Memory, ptr, size uint32) []byte {
	b, ok := read(mem, ptr, size)
	if !ok {
		hwTrap("out of bounds memory access at %d+%d", ptr, size)
	}
	return b
}

// hwWrite writes data at buf if it fits within limit, and returns its
// length either way.
func hwWrite(mem api.Memory, buf, limit uint32, data []byte) uint32 {
	n := uint32(len(data))
	if n > 0 && n <= limit && (mem == nil || !mem.Write(buf, data)) {
		hwTrap("out of bounds memory access at %d+%d", buf, n)
	}
	return n
}

func hwEnableFeatures(_ context.Context, in *instance, _ api.Memory, s *stream, a []uint64) uint64 {
	want := arg(a, 0)
	if s == nil { // initialization: for every exchange
		got := want & (hwBufferRequest | hwBufferResponse)
		in.p.hwInit().Or(got)
		return uint64(in.p.hwInit().Load())
	}
	s.host.hw.features |= want & s.f.hwSupported()
	return uint64(s.host.hw.features)
}

func hwGetConfig(_ context.Context, in *instance, mem api.Memory, _ *stream, a []uint64) uint64 {
	return uint64(hwWrite(mem, arg(a, 0), arg(a, 1), in.p.opts.Config))
}

// http-wasm log levels: debug -1, info 0, warn 1, error 2, none 3.
func hwLevel(l int32) (string, slog.Level, bool) {
	switch l {
	case -1:
		return "debug", slog.LevelDebug, true
	case 0:
		return "info", slog.LevelInfo, true
	case 1:
		return "warn", slog.LevelWarn, true
	case 2:
		return "error", slog.LevelError, true
	}
	return "", 0, false
}

func hwLog(ctx context.Context, in *instance, mem api.Memory, _ *stream, a []uint64) uint64 {
	name, level, ok := hwLevel(int32(arg(a, 0)))
	msg, okm := read(mem, arg(a, 1), arg(a, 2))
	if ok && okm { // a failed log is ignored, as the ABI asks
		in.guestLog(ctx, name, level, msg)
	}
	return 0
}

func hwLogEnabled(ctx context.Context, in *instance, _ api.Memory, _ *stream, a []uint64) uint64 {
	_, level, ok := hwLevel(int32(arg(a, 0)))
	return b2u(ok && in.p.logger.Enabled(ctx, level))
}

func hwGetMethod(_ context.Context, _ *instance, mem api.Memory, s *stream, a []uint64) uint64 {
	return uint64(hwWrite(mem, arg(a, 0), arg(a, 1), []byte(s.request().Method)))
}

func hwSetMethod(_ context.Context, _ *instance, mem api.Memory, s *stream, a []uint64) uint64 {
	m := string(hwRead(mem, arg(a, 0), arg(a, 1)))
	if m == "" || strings.ContainsAny(m, " \t\r\n") || s.host.hw.inResponse {
		hwTrap("set_method: invalid method %q", m)
	}
	s.request().Method = m
	requestEdited(s, ":method")
	return 0
}

func hwGetURI(_ context.Context, _ *instance, mem api.Memory, s *stream, a []uint64) uint64 {
	return uint64(hwWrite(mem, arg(a, 0), arg(a, 1), []byte(s.request().URL.RequestURI())))
}

func hwSetURI(_ context.Context, _ *instance, mem api.Memory, s *stream, a []uint64) uint64 {
	v := string(hwRead(mem, arg(a, 0), arg(a, 1)))
	u, err := url.ParseRequestURI(v)
	if err != nil || !strings.HasPrefix(v, "/") || s.host.hw.inResponse {
		hwTrap("set_uri: invalid URI %q", v)
	}
	r := s.request()
	r.URL.Path, r.URL.RawPath, r.URL.RawQuery = u.Path, u.RawPath, u.RawQuery
	requestEdited(s, ":path")
	return 0
}

func hwGetProto(_ context.Context, _ *instance, mem api.Memory, s *stream, a []uint64) uint64 {
	p := s.request().Proto
	if p == "" {
		p = "HTTP/1.1"
	}
	return uint64(hwWrite(mem, arg(a, 0), arg(a, 1), []byte(p)))
}

func hwGetSourceAddr(_ context.Context, _ *instance, mem api.Memory, s *stream, a []uint64) uint64 {
	return uint64(hwWrite(mem, arg(a, 0), arg(a, 1), []byte(s.request().RemoteAddr)))
}

// hwHeaders is the header map a kind names now: the request's; the
// response handle_request is writing, or the upstream's in
// handle_response. Trailers are not supported: nil.
func hwHeaders(s *stream, kind uint32) (http.Header, bool) {
	switch kind {
	case hwRequest:
		return s.request().Header, true
	case hwResponse:
		if s.host.hw.inResponse && s.x.Response != nil {
			if s.x.Response.Header == nil {
				s.x.Response.Header = http.Header{}
			}
			return s.x.Response.Header, true
		}
		return s.host.hw.response().Header, true
	case hwRequestTrailers, hwResponseTrailers:
		return nil, false
	}
	hwTrap("unknown header kind %d", kind)
	return nil, false
}

// countLen packs a NUL-terminated sequence's count and length.
func countLen(count int, b []byte) uint64 {
	if count == 0 {
		return 0
	}
	return uint64(count)<<32 | uint64(len(b))
}

func hwGetHeaderNames(_ context.Context, in *instance, mem api.Memory, s *stream, a []uint64) uint64 {
	h, ok := hwHeaders(s, arg(a, 0))
	if !ok {
		return 0
	}
	names := make([]string, 0, len(h)+1)
	for k := range h {
		names = append(names, strings.ToLower(k))
	}
	if arg(a, 0) == hwRequest && s.request().Host != "" && h["Host"] == nil {
		names = append(names, "host")
	}
	sort.Strings(names)
	b := in.scr[:0]
	for _, n := range names {
		b = append(append(b, n...), 0)
	}
	in.scr = b
	hwWrite(mem, arg(a, 1), arg(a, 2), b)
	return countLen(len(names), b)
}

func hwGetHeaderValues(_ context.Context, in *instance, mem api.Memory, s *stream, a []uint64) uint64 {
	h, ok := hwHeaders(s, arg(a, 0))
	name := string(hwRead(mem, arg(a, 1), arg(a, 2)))
	if !ok {
		return 0
	}
	var vv []string
	if arg(a, 0) == hwRequest && strings.EqualFold(name, "host") && h["Host"] == nil {
		if hst := s.request().Host; hst != "" {
			vv = []string{hst}
		}
	} else {
		vv = h[http.CanonicalHeaderKey(name)]
	}
	b := in.scr[:0]
	for _, v := range vv {
		b = append(append(b, v...), 0)
	}
	in.scr = b
	hwWrite(mem, arg(a, 3), arg(a, 4), b)
	return countLen(len(vv), b)
}

// hwHeaderKV reads a header edit's arguments, trapping on what cannot be set.
func hwHeaderKV(mem api.Memory, s *stream, a []uint64, withValue bool) (http.Header, string, string) {
	kind := arg(a, 0)
	h, ok := hwHeaders(s, kind)
	if !ok {
		hwTrap("trailers are not supported (feature 4 is never enabled)")
	}
	k := string(hwRead(mem, arg(a, 1), arg(a, 2)))
	var v string
	if withValue {
		v = string(hwRead(mem, arg(a, 3), arg(a, 4)))
	}
	if !wasmrt.ValidHeader(k, v) {
		hwTrap("invalid header %q", k)
	}
	if kind == hwRequest && s.host.hw.inResponse {
		hwTrap("request headers are read-only in handle_response")
	}
	return h, k, v
}

func hwSetHeader(_ context.Context, _ *instance, mem api.Memory, s *stream, a []uint64) uint64 {
	h, k, v := hwHeaderKV(mem, s, a, true)
	if arg(a, 0) == hwRequest && strings.EqualFold(k, "host") {
		s.request().Host = v
		requestEdited(s, ":authority")
		return 0
	}
	h[http.CanonicalHeaderKey(k)] = []string{v}
	if arg(a, 0) == hwRequest {
		requestEdited(s, k)
	}
	return 0
}

func hwAddHeader(_ context.Context, _ *instance, mem api.Memory, s *stream, a []uint64) uint64 {
	h, k, v := hwHeaderKV(mem, s, a, true)
	ck := http.CanonicalHeaderKey(k)
	h[ck] = append(h[ck], v)
	if arg(a, 0) == hwRequest {
		requestEdited(s, k)
	}
	return 0
}

func hwRemoveHeader(_ context.Context, _ *instance, mem api.Memory, s *stream, a []uint64) uint64 {
	h, k, _ := hwHeaderKV(mem, s, a, false)
	delete(h, http.CanonicalHeaderKey(k))
	if arg(a, 0) == hwRequest {
		requestEdited(s, k)
	}
	return 0
}

// hwRequestBody returns the whole request body, reading (and from then on
// buffering) it if the chain did not: the next handler still gets it.
func (in *instance) hwRequestBody(s *stream) []byte {
	x := s.x
	if x.RequestBody != nil {
		return x.RequestBody
	}
	r := s.request()
	if r.Body == nil || r.Body == http.NoBody {
		x.RequestBody = []byte{}
		return x.RequestBody
	}
	max := in.p.opts.MaxBody
	b, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		hwTrap("reading the request body: %v", err)
	}
	if int64(len(b)) > max {
		hwTrap("the request body is over limits.max_body (%d bytes)", max)
	}
	_ = r.Body.Close()
	setRequestBody(s, b)
	return b
}

func setRequestBody(s *stream, b []byte) {
	r := s.request()
	s.x.RequestBody = b
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	r.Header.Del("Content-Length")
}

func hwReadBody(_ context.Context, in *instance, mem api.Memory, s *stream, a []uint64) uint64 {
	kind, buf, limit := arg(a, 0), arg(a, 1), arg(a, 2)
	if limit == 0 {
		hwTrap("read_body with a zero buf_limit")
	}
	hw := &s.host.hw
	var body []byte
	var off *int
	switch kind {
	case hwRequest:
		body, off = in.hwRequestBody(s), &hw.reqRead
	case hwResponse:
		if hw.inResponse && s.x.Response != nil {
			body = s.x.Response.Body // nil when the route streams it: EOF at once
		} else {
			body = hw.response().Body
		}
		off = &hw.respRead
	default:
		hwTrap("unknown body kind %d", kind)
	}
	if *off > len(body) {
		*off = len(body)
	}
	chunk := body[*off:]
	if uint32(len(chunk)) > limit {
		chunk = chunk[:limit]
	}
	if len(chunk) > 0 && (mem == nil || !mem.Write(buf, chunk)) {
		hwTrap("out of bounds memory access at %d+%d", buf, len(chunk))
	}
	*off += len(chunk)
	eof := uint64(0)
	if *off >= len(body) {
		eof = 1
	}
	return eof<<32 | uint64(len(chunk))
}

func hwWriteBody(_ context.Context, in *instance, mem api.Memory, s *stream, a []uint64) uint64 {
	kind := arg(a, 0)
	data := hwRead(mem, arg(a, 1), arg(a, 2))
	hw := &s.host.hw
	max := in.p.opts.MaxBody
	switch kind {
	case hwRequest:
		if hw.inResponse {
			hwTrap("the request body cannot be written in handle_response")
		}
		var b []byte
		if hw.reqWritten {
			b = s.x.RequestBody
		} else if r := s.request(); r.Body != nil && r.Body != http.NoBody && s.x.RequestBody == nil {
			_ = r.Body.Close() // replaced unread
		}
		b = append(append([]byte(nil), b...), data...)
		if int64(len(b)) > max {
			hwTrap("the request body would be over limits.max_body (%d bytes)", max)
		}
		hw.reqWritten = true
		setRequestBody(s, b)
	case hwResponse:
		resp := hw.response()
		if hw.inResponse {
			resp = s.x.Response
			if resp == nil || resp.Body == nil {
				hwTrap("the response body streams on this exchange: enable buffer_response (feature 2) in handle_request or at initialization, or list it under bodies:")
			}
		}
		var b []byte
		if hw.respWrote {
			b = resp.Body
		}
		b = append(append([]byte(nil), b...), data...)
		if int64(len(b)) > max {
			hwTrap("the response body would be over limits.max_body (%d bytes)", max)
		}
		hw.respWrote = true
		resp.Body = b
		resp.Header.Del("Content-Length")
	default:
		hwTrap("unknown body kind %d", kind)
	}
	return 0
}

func hwGetStatus(_ context.Context, _ *instance, _ api.Memory, s *stream, _ []uint64) uint64 {
	if s.host.hw.inResponse && s.x.Response != nil {
		return uint64(s.x.Response.Status)
	}
	return uint64(s.host.hw.response().Status)
}

func hwSetStatus(_ context.Context, _ *instance, _ api.Memory, s *stream, a []uint64) uint64 {
	code := int(int32(arg(a, 0)))
	if code < 100 || code > 599 {
		hwTrap("set_status_code: %d is not an HTTP status", code)
	}
	if s.host.hw.inResponse && s.x.Response != nil {
		s.x.Response.Status = code
	} else {
		s.host.hw.response().Status = code
	}
	return 0
}

// hwOnResponseBody buffers the response body of an exchange that enabled
// buffer_response in handle_request, and runs handle_response at its end
// with the whole body readable and writable; the status and headers are
// not sent yet (the chain holds them while a filter buffers). Every other
// exchange's body passes through untouched.
func (f *Filter) hwOnResponseBody(s *stream, b *filter.Body) (filter.BodyAction, *filter.Response) {
	hw := &s.host.hw
	if !hw.deferred {
		return filter.BodyContinue, nil
	}
	if !b.End {
		return filter.BodyBuffer, nil
	}
	hw.deferred = false
	resp := s.x.Response
	resp.Body = b.Buf
	if resp.Body == nil {
		resp.Body = []byte{}
	}
	in := s.in
	in.mu.Lock()
	in.cur = s
	hw.inResponse, hw.respWrote = true, false
	_, err := in.call(cbHandleResponse, uint64(hw.ctx), 0)
	in.cur = nil
	in.mu.Unlock()
	if err != nil {
		return filter.BodyContinue, f.holdOrFail(s, "response", err)
	}
	b.Buf = resp.Body
	return filter.BodyContinue, nil
}
