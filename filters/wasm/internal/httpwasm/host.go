// Package httpwasm is the host of the http-wasm handler ABI (http-wasm.io,
// module http_handler), the ABI of Traefik's and Dapr's Wasm middleware:
// a module importing from http_handler is one. It owns the ABI's
// constants, the module's validation, an exchange's http-wasm state
// (Stream) and the http_handler host functions (Func); the plugin's pool,
// limits and failure policies, and the calls of handle_request and
// handle_response from the route filter, are filters/wasm's.
//
// The seam: a host function reaches the gateway only through Host, which
// filters/wasm implements on its instance (the current exchange as a
// *filter.Exchange with its Stream, the plugin's config, limits, log and
// scratch buffer, and route re-selection after a request edit). Getters
// take the guest's buffer and limit and return the value's length,
// writing nothing when it does not fit; host errors trap (the failure
// policy applies).
package httpwasm

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

// Module is the import module that makes a module an http-wasm guest.
const Module = "http_handler"

// Feature bits (enable_features).
const (
	BufferRequest  = 1
	BufferResponse = 2
	Trailers       = 4 // not supported: trailer getters answer empty, setters trap
)

// Callbacks: the guest exports the route filter calls, by their index
// in Callbacks.
const (
	HandleRequest = iota
	HandleResponse
	NumCallbacks
)

// Callbacks are the exports' names.
var Callbacks = [NumCallbacks]string{
	HandleRequest:  "handle_request",
	HandleResponse: "handle_response",
}

// Header kinds and body kinds.
const (
	kindRequest          = 0
	kindResponse         = 1
	kindRequestTrailers  = 2
	kindResponseTrailers = 3
)

// Imports reports whether a compiled module imports from http_handler.
func Imports(m wazero.CompiledModule) bool {
	for _, f := range m.ImportedFunctions() {
		if mod, _, _ := f.Import(); mod == Module {
			return true
		}
	}
	return false
}

// Validate checks what an http-wasm guest must export and may import.
func Validate(m wazero.CompiledModule) error {
	exports := m.ExportedFunctions()
	hr, ok := exports[Callbacks[HandleRequest]]
	if !ok {
		return errors.New("http-wasm module (imports http_handler) does not export handle_request")
	}
	if len(hr.ParamTypes()) != 0 || len(hr.ResultTypes()) != 1 || hr.ResultTypes()[0] != api.ValueTypeI64 {
		return errors.New("http-wasm handle_request must take nothing and return an i64 (ctx<<32 | next)")
	}
	if hs, ok := exports[Callbacks[HandleResponse]]; ok && (!wasmrt.SigMatches(hs.ParamTypes(), "ii") || len(hs.ResultTypes()) != 0) {
		return errors.New("http-wasm handle_response must take (i32 ctx, i32 is_error) and return nothing")
	}
	if _, ok := m.ExportedMemories()["memory"]; !ok {
		return errors.New(`the module exports no memory named "memory"`)
	}
	for _, f := range m.ImportedFunctions() {
		mod, name, _ := f.Import()
		if mod != Module && mod != wasmrt.InterruptModule && mod != "wasi_snapshot_preview1" && mod != "wasi_unstable" {
			return fmt.Errorf("the module imports %s.%s; http-wasm modules may only import from http_handler and WASI", mod, name)
		}
	}
	if ms := m.ImportedMemories(); len(ms) > 0 {
		return errors.New("the module imports a memory; it must define and export its own")
	}
	return nil
}

// Host is what the http_handler functions need from the gateway, for the
// instance whose guest calls them. filters/wasm implements it on its
// instance.
type Host interface {
	// Current returns the exchange whose handler runs and its http-wasm
	// state; nil, nil while the guest initializes.
	Current() (*filter.Exchange, *Stream)
	// Supported is what enable_features may turn on for the current
	// exchange (its route's buffering).
	Supported() uint32
	// RequestEdited records an edit of the current request: key is a
	// header name (any case), or ":method", ":path", ":authority"; the
	// route may then be chosen again.
	RequestEdited(key string)
	// InitFeatures holds the features enabled during initialization
	// (every instance runs the same one): they apply to every exchange.
	InitFeatures() *atomic.Uint32
	Config() []byte // the plugin's config (get_config)
	MaxBody() int64 // limits.max_body
	// Log sends a guest's line to the gateway log (and the exchange's
	// capture); LogEnabled reports whether level is logged.
	Log(ctx context.Context, level string, l slog.Level, msg []byte)
	LogEnabled(ctx context.Context, l slog.Level) bool
	// Scratch is the instance's buffer for serializing names and values.
	Scratch() *[]byte
}

// Stream is an exchange's http-wasm state.
type Stream struct {
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
	// handle_request) on a route that streams it.
	deferred bool
}

// Begin starts handle_request with the features enabled for the exchange.
func (st *Stream) Begin(features uint32) { st.features = features }

// Handled takes handle_request's result: the local response when the
// guest answered (or accepts the empty 200), else nil after recording
// next and the context value for handle_response.
func (st *Stream) Handled(r uint64) *filter.Response {
	if r&1 == 0 {
		resp := st.response()
		resp.Local = true
		return resp
	}
	st.next, st.ctx = true, uint32(r>>32)
	return nil
}

// Next reports whether handle_request asked for the next handler.
func (st *Stream) Next() bool { return st.next }

// Features returns the features enabled for the exchange.
func (st *Stream) Features() uint32 { return st.features }

// Defer makes handle_response wait for the end of the response body;
// Deferred reports whether it waits.
func (st *Stream) Defer()         { st.deferred = true }
func (st *Stream) Deferred() bool { return st.deferred }

// EnterResponse starts handle_response and returns the context value to
// pass it.
func (st *Stream) EnterResponse() uint64 {
	st.deferred, st.inResponse, st.respWrote = false, true, false
	return uint64(st.ctx)
}

func (st *Stream) response() *filter.Response {
	if st.resp == nil {
		st.resp = &filter.Response{Status: http.StatusOK, Header: http.Header{}, Body: []byte{}}
	}
	return st.resp
}

// trap makes a host error trap the guest: wazero turns the panic into the
// call's error, and the failure policy applies.
func trap(format string, args ...any) { panic(fmt.Errorf("http_handler: "+format, args...)) }

type hostFunc struct {
	params, results string
	fn              func(ctx context.Context, h Host, mem api.Memory, x *filter.Exchange, st *Stream, a []uint64) uint64
	stream          bool // needs an exchange: trap without one
}

var funcs = map[string]hostFunc{
	"enable_features":      {"i", "i", enableFeatures, false},
	"get_config":           {"ii", "i", getConfig, false},
	"log":                  {"iii", "", logLine, false},
	"log_enabled":          {"i", "i", logEnabled, false},
	"get_method":           {"ii", "i", getMethod, true},
	"set_method":           {"ii", "", setMethod, true},
	"get_uri":              {"ii", "i", getURI, true},
	"set_uri":              {"ii", "", setURI, true},
	"get_protocol_version": {"ii", "i", getProto, true},
	"get_source_addr":      {"ii", "i", getSourceAddr, true},
	"get_header_names":     {"iii", "I", getHeaderNames, true},
	"get_header_values":    {"iiiii", "I", getHeaderValues, true},
	"set_header_value":     {"iiiii", "", setHeader, true},
	"add_header_value":     {"iiiii", "", addHeader, true},
	"remove_header":        {"iii", "", removeHeader, true},
	"read_body":            {"iii", "I", readBody, true},
	"write_body":           {"iii", "", writeBody, true},
	"get_status_code":      {"", "i", getStatus, true},
	"set_status_code":      {"i", "", setStatus, true},
}

// Func is the host function for an http_handler import: ours if the
// signature matches, else one that traps when called. hostOf finds the
// calling instance's Host from the call's context (nil outside one).
func Func(name string, params, results []api.ValueType, hostOf func(context.Context) Host) api.GoModuleFunc {
	h, ok := funcs[name]
	if !ok || !wasmrt.SigMatches(params, h.params) || !wasmrt.SigMatches(results, h.results) {
		return func(context.Context, api.Module, []uint64) {
			trap("%s is not implemented with this signature", name)
		}
	}
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		host := hostOf(ctx)
		if host == nil {
			trap("%s called outside a plugin instance", name)
		}
		x, st := host.Current()
		if h.stream && x == nil {
			trap("%s called outside handle_request/handle_response", name)
		}
		r := h.fn(ctx, host, mod.Memory(), x, st, stack)
		if h.results != "" {
			stack[0] = r
		}
	}
}

func arg(a []uint64, i int) uint32 { return uint32(a[i]) }

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// readMem returns guest memory or traps. The slice aliases guest memory.
func readMem(mem api.Memory, ptr, size uint32) []byte {
	if size == 0 && mem != nil {
		return nil
	}
	var b []byte
	ok := false
	if mem != nil {
		b, ok = mem.Read(ptr, size)
	}
	if !ok {
		trap("out of bounds memory access at %d+%d", ptr, size)
	}
	return b
}

// writeMem writes data at buf if it fits within limit, and returns its
// length either way.
func writeMem(mem api.Memory, buf, limit uint32, data []byte) uint32 {
	n := uint32(len(data))
	if n > 0 && n <= limit && (mem == nil || !mem.Write(buf, data)) {
		trap("out of bounds memory access at %d+%d", buf, n)
	}
	return n
}

func enableFeatures(_ context.Context, h Host, _ api.Memory, x *filter.Exchange, st *Stream, a []uint64) uint64 {
	want := arg(a, 0)
	if x == nil { // initialization: for every exchange
		got := want & (BufferRequest | BufferResponse)
		h.InitFeatures().Or(got)
		return uint64(h.InitFeatures().Load())
	}
	st.features |= want & h.Supported()
	return uint64(st.features)
}

func getConfig(_ context.Context, h Host, mem api.Memory, _ *filter.Exchange, _ *Stream, a []uint64) uint64 {
	return uint64(writeMem(mem, arg(a, 0), arg(a, 1), h.Config()))
}

// level maps http-wasm log levels: debug -1, info 0, warn 1, error 2, none 3.
func level(l int32) (string, slog.Level, bool) {
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

func logLine(ctx context.Context, h Host, mem api.Memory, _ *filter.Exchange, _ *Stream, a []uint64) uint64 {
	name, lv, ok := level(int32(arg(a, 0)))
	var msg []byte
	okm := mem != nil
	if okm && arg(a, 2) > 0 {
		msg, okm = mem.Read(arg(a, 1), arg(a, 2))
	}
	if ok && okm { // a failed log is ignored, as the ABI asks
		h.Log(ctx, name, lv, msg)
	}
	return 0
}

func logEnabled(ctx context.Context, h Host, _ api.Memory, _ *filter.Exchange, _ *Stream, a []uint64) uint64 {
	_, lv, ok := level(int32(arg(a, 0)))
	return b2u(ok && h.LogEnabled(ctx, lv))
}

func getMethod(_ context.Context, _ Host, mem api.Memory, x *filter.Exchange, _ *Stream, a []uint64) uint64 {
	return uint64(writeMem(mem, arg(a, 0), arg(a, 1), []byte(x.Request.Method)))
}

func setMethod(_ context.Context, h Host, mem api.Memory, x *filter.Exchange, st *Stream, a []uint64) uint64 {
	m := string(readMem(mem, arg(a, 0), arg(a, 1)))
	if m == "" || strings.ContainsAny(m, " \t\r\n") || st.inResponse {
		trap("set_method: invalid method %q", m)
	}
	x.Request.Method = m
	h.RequestEdited(":method")
	return 0
}

func getURI(_ context.Context, _ Host, mem api.Memory, x *filter.Exchange, _ *Stream, a []uint64) uint64 {
	return uint64(writeMem(mem, arg(a, 0), arg(a, 1), []byte(x.Request.URL.RequestURI())))
}

func setURI(_ context.Context, h Host, mem api.Memory, x *filter.Exchange, st *Stream, a []uint64) uint64 {
	v := string(readMem(mem, arg(a, 0), arg(a, 1)))
	u, err := url.ParseRequestURI(v)
	if err != nil || !strings.HasPrefix(v, "/") || st.inResponse {
		trap("set_uri: invalid URI %q", v)
	}
	r := x.Request
	r.URL.Path, r.URL.RawPath, r.URL.RawQuery = u.Path, u.RawPath, u.RawQuery
	h.RequestEdited(":path")
	return 0
}

func getProto(_ context.Context, _ Host, mem api.Memory, x *filter.Exchange, _ *Stream, a []uint64) uint64 {
	p := x.Request.Proto
	if p == "" {
		p = "HTTP/1.1"
	}
	return uint64(writeMem(mem, arg(a, 0), arg(a, 1), []byte(p)))
}

func getSourceAddr(_ context.Context, _ Host, mem api.Memory, x *filter.Exchange, _ *Stream, a []uint64) uint64 {
	return uint64(writeMem(mem, arg(a, 0), arg(a, 1), []byte(x.Request.RemoteAddr)))
}

// headers is the header map a kind names now: the request's; the
// response handle_request is writing, or the upstream's in
// handle_response. Trailers are not supported: nil.
func headers(x *filter.Exchange, st *Stream, kind uint32) (http.Header, bool) {
	switch kind {
	case kindRequest:
		return x.Request.Header, true
	case kindResponse:
		if st.inResponse && x.Response != nil {
			if x.Response.Header == nil {
				x.Response.Header = http.Header{}
			}
			return x.Response.Header, true
		}
		return st.response().Header, true
	case kindRequestTrailers, kindResponseTrailers:
		return nil, false
	}
	trap("unknown header kind %d", kind)
	return nil, false
}

// countLen packs a NUL-terminated sequence's count and length.
func countLen(count int, b []byte) uint64 {
	if count == 0 {
		return 0
	}
	return uint64(count)<<32 | uint64(len(b))
}

func getHeaderNames(_ context.Context, host Host, mem api.Memory, x *filter.Exchange, st *Stream, a []uint64) uint64 {
	h, ok := headers(x, st, arg(a, 0))
	if !ok {
		return 0
	}
	names := make([]string, 0, len(h)+1)
	for k := range h {
		names = append(names, strings.ToLower(k))
	}
	if arg(a, 0) == kindRequest && x.Request.Host != "" && h["Host"] == nil {
		names = append(names, "host")
	}
	sort.Strings(names)
	scr := host.Scratch()
	b := (*scr)[:0]
	for _, n := range names {
		b = append(append(b, n...), 0)
	}
	*scr = b
	writeMem(mem, arg(a, 1), arg(a, 2), b)
	return countLen(len(names), b)
}

func getHeaderValues(_ context.Context, host Host, mem api.Memory, x *filter.Exchange, st *Stream, a []uint64) uint64 {
	h, ok := headers(x, st, arg(a, 0))
	name := string(readMem(mem, arg(a, 1), arg(a, 2)))
	if !ok {
		return 0
	}
	var vv []string
	if arg(a, 0) == kindRequest && strings.EqualFold(name, "host") && h["Host"] == nil {
		if hst := x.Request.Host; hst != "" {
			vv = []string{hst}
		}
	} else {
		vv = h[http.CanonicalHeaderKey(name)]
	}
	scr := host.Scratch()
	b := (*scr)[:0]
	for _, v := range vv {
		b = append(append(b, v...), 0)
	}
	*scr = b
	writeMem(mem, arg(a, 3), arg(a, 4), b)
	return countLen(len(vv), b)
}

// headerKV reads a header edit's arguments, trapping on what cannot be set.
func headerKV(mem api.Memory, x *filter.Exchange, st *Stream, a []uint64, withValue bool) (http.Header, string, string) {
	kind := arg(a, 0)
	h, ok := headers(x, st, kind)
	if !ok {
		trap("trailers are not supported (feature 4 is never enabled)")
	}
	k := string(readMem(mem, arg(a, 1), arg(a, 2)))
	var v string
	if withValue {
		v = string(readMem(mem, arg(a, 3), arg(a, 4)))
	}
	if !wasmrt.ValidHeader(k, v) {
		trap("invalid header %q", k)
	}
	if kind == kindRequest && st.inResponse {
		trap("request headers are read-only in handle_response")
	}
	return h, k, v
}

func setHeader(_ context.Context, host Host, mem api.Memory, x *filter.Exchange, st *Stream, a []uint64) uint64 {
	h, k, v := headerKV(mem, x, st, a, true)
	if arg(a, 0) == kindRequest && strings.EqualFold(k, "host") {
		x.Request.Host = v
		host.RequestEdited(":authority")
		return 0
	}
	h[http.CanonicalHeaderKey(k)] = []string{v}
	if arg(a, 0) == kindRequest {
		host.RequestEdited(k)
	}
	return 0
}

func addHeader(_ context.Context, host Host, mem api.Memory, x *filter.Exchange, st *Stream, a []uint64) uint64 {
	h, k, v := headerKV(mem, x, st, a, true)
	ck := http.CanonicalHeaderKey(k)
	h[ck] = append(h[ck], v)
	if arg(a, 0) == kindRequest {
		host.RequestEdited(k)
	}
	return 0
}

func removeHeader(_ context.Context, host Host, mem api.Memory, x *filter.Exchange, st *Stream, a []uint64) uint64 {
	h, k, _ := headerKV(mem, x, st, a, false)
	delete(h, http.CanonicalHeaderKey(k))
	if arg(a, 0) == kindRequest {
		host.RequestEdited(k)
	}
	return 0
}

// requestBody returns the whole request body, reading (and from then on
// buffering) it if the chain did not: the next handler still gets it.
func requestBody(host Host, x *filter.Exchange) []byte {
	if x.RequestBody != nil {
		return x.RequestBody
	}
	r := x.Request
	if r.Body == nil || r.Body == http.NoBody {
		x.RequestBody = []byte{}
		return x.RequestBody
	}
	max := host.MaxBody()
	b, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		trap("reading the request body: %v", err)
	}
	if int64(len(b)) > max {
		trap("the request body is over limits.max_body (%d bytes)", max)
	}
	_ = r.Body.Close()
	setRequestBody(x, b)
	return b
}

func setRequestBody(x *filter.Exchange, b []byte) {
	r := x.Request
	x.RequestBody = b
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	r.Header.Del("Content-Length")
}

func readBody(_ context.Context, host Host, mem api.Memory, x *filter.Exchange, st *Stream, a []uint64) uint64 {
	kind, buf, limit := arg(a, 0), arg(a, 1), arg(a, 2)
	if limit == 0 {
		trap("read_body with a zero buf_limit")
	}
	var body []byte
	var off *int
	switch kind {
	case kindRequest:
		body, off = requestBody(host, x), &st.reqRead
	case kindResponse:
		if st.inResponse && x.Response != nil {
			body = x.Response.Body // nil when the route streams it: EOF at once
		} else {
			body = st.response().Body
		}
		off = &st.respRead
	default:
		trap("unknown body kind %d", kind)
	}
	if *off > len(body) {
		*off = len(body)
	}
	chunk := body[*off:]
	if uint32(len(chunk)) > limit {
		chunk = chunk[:limit]
	}
	if len(chunk) > 0 && (mem == nil || !mem.Write(buf, chunk)) {
		trap("out of bounds memory access at %d+%d", buf, len(chunk))
	}
	*off += len(chunk)
	eof := uint64(0)
	if *off >= len(body) {
		eof = 1
	}
	return eof<<32 | uint64(len(chunk))
}

func writeBody(_ context.Context, host Host, mem api.Memory, x *filter.Exchange, st *Stream, a []uint64) uint64 {
	kind := arg(a, 0)
	data := readMem(mem, arg(a, 1), arg(a, 2))
	max := host.MaxBody()
	switch kind {
	case kindRequest:
		if st.inResponse {
			trap("the request body cannot be written in handle_response")
		}
		var b []byte
		if st.reqWritten {
			b = x.RequestBody
		} else if r := x.Request; r.Body != nil && r.Body != http.NoBody && x.RequestBody == nil {
			_ = r.Body.Close() // replaced unread
		}
		b = append(append([]byte(nil), b...), data...)
		if int64(len(b)) > max {
			trap("the request body would be over limits.max_body (%d bytes)", max)
		}
		st.reqWritten = true
		setRequestBody(x, b)
	case kindResponse:
		resp := st.response()
		if st.inResponse {
			resp = x.Response
			if resp == nil || resp.Body == nil {
				trap("the response body streams on this exchange: enable buffer_response (feature 2) in handle_request or at initialization, or list it under bodies:")
			}
		}
		var b []byte
		if st.respWrote {
			b = resp.Body
		}
		b = append(append([]byte(nil), b...), data...)
		if int64(len(b)) > max {
			trap("the response body would be over limits.max_body (%d bytes)", max)
		}
		st.respWrote = true
		resp.Body = b
		resp.Header.Del("Content-Length")
	default:
		trap("unknown body kind %d", kind)
	}
	return 0
}

func getStatus(_ context.Context, _ Host, _ api.Memory, x *filter.Exchange, st *Stream, _ []uint64) uint64 {
	if st.inResponse && x.Response != nil {
		return uint64(x.Response.Status)
	}
	return uint64(st.response().Status)
}

func setStatus(_ context.Context, _ Host, _ api.Memory, x *filter.Exchange, st *Stream, a []uint64) uint64 {
	code := int(int32(arg(a, 0)))
	if code < 100 || code > 599 {
		trap("set_status_code: %d is not an HTTP status", code)
	}
	if st.inResponse && x.Response != nil {
		x.Response.Status = code
	} else {
		st.response().Status = code
	}
	return 0
}
