package wasm

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"strings"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/core/filter"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/proxywasm"
	"github.com/wasmgate/wasmgate/filters/wasm/internal/wasmrt"
)

// hostFunc is one host function: its Wasm signature and implementation.
// Implementations read their i32 arguments from stack and write the status
// to stack[0]; every guest pointer is checked before use.
type hostFunc struct {
	params  string // one letter per parameter: i for i32, I for i64
	results string // "" or "i"
	fn      func(ctx context.Context, in *instance, mem api.Memory, a []uint64) proxywasm.Status
}

// envFuncs are the Proxy-Wasm host functions we implement (module env):
// internal/proxywasm's (proxywasm.Funcs, on the instance's
// proxywasm.Host) and those still here, which reach the instance
// directly. Imports from env not listed, or with another signature,
// answer UNIMPLEMENTED.
var envFuncs = func() map[string]hostFunc {
	m := map[string]hostFunc{
		"proxy_get_buffer_bytes":             {"iiiii", "i", hostGetBufferBytes},
		"proxy_set_buffer_bytes":             {"iiiii", "i", hostSetBufferBytes},
		"proxy_get_buffer_status":            {"iii", "i", hostGetBufferStatus},
		"proxy_send_local_response":          {"iiiiiiii", "i", hostSendLocalResponse},
		"proxy_continue_stream":              {"i", "i", hostContinueStream},
		"proxy_continue_request":             {"", "i", hostContinueStream},
		"proxy_continue_response":            {"", "i", hostContinueStream},
		"proxy_done":                         {"", "i", hostDone},
		"proxy_set_effective_context":        {"i", "i", hostSetEffectiveContext},
		"proxy_set_tick_period_milliseconds": {"i", "i", hostSetTickPeriod},
		"proxy_http_call":                    {"iiiiiiiiii", "i", hostHTTPCall},
	}
	for name, f := range proxywasm.Funcs {
		m[name] = abiFunc(f)
	}
	return m
}()

func hostSetEffectiveContext(_ context.Context, in *instance, _ api.Memory, a []uint64) proxywasm.Status {
	id := proxywasm.Arg(a, 0)
	// A held stream of this instance may be resumed from any of its
	// contexts (body.go); and left again for the root context.
	if t := in.heldStream(id); t != nil {
		in.cur = t
		return proxywasm.StatusOK
	}
	if r := in.rootByID(id); r != nil && in.cur != nil && in.cur.body.held {
		in.cur, in.root = nil, r
		return proxywasm.StatusOK
	}
	if c := in.host.delivering; c != nil {
		// A callout response runs in the root context; the guest may switch
		// to the stream that dispatched it, and back.
		switch {
		case id == c.root.id:
			in.cur = nil
			return proxywasm.StatusOK
		case c.owner != nil && c.owner.id == id:
			in.cur = c.owner
			return proxywasm.StatusOK
		}
		return proxywasm.StatusBadArgument
	}
	if in.cur != nil && in.cur.id == id {
		return proxywasm.StatusOK
	}
	if r := in.rootByID(id); r != nil {
		if in.cur == nil {
			in.root = r
		}
		return proxywasm.StatusOK
	}
	return proxywasm.StatusBadArgument
}

// buffer returns the bytes of a buffer type, and whether it exists now.
func (in *instance) buffer(t uint32) ([]byte, bool) {
	switch t {
	case proxywasm.BufferPluginConfig:
		if r := in.curRoot(); r != nil {
			return r.config, true
		}
		return in.p.opts.Config, true
	case proxywasm.BufferVMConfig:
		return in.p.opts.VMConfig, true
	case proxywasm.BufferCallResponse:
		if c := in.host.delivering; c != nil && c.err == nil {
			return c.resp.Body, true
		}
		return nil, false
	}
	s := in.cur
	if s == nil {
		return nil, false
	}
	// The body a body callback is being given, or the held stream's
	// (body.go); with `bodies:`, the whole body through its phase.
	if b := s.body.cur; b != nil && (t == proxywasm.BufferRequestBody) == (s.body.dir == proxywasm.PhaseRequest) && t <= proxywasm.BufferResponseBody {
		return b.Buf, true
	}
	switch t {
	case proxywasm.BufferRequestBody:
		if !in.p.opts.RequestBody || s.pw.Phase != proxywasm.PhaseRequest {
			return nil, false
		}
		return s.x.RequestBody, true
	case proxywasm.BufferResponseBody:
		if !in.p.opts.ResponseBody || s.response() == nil {
			return nil, false
		}
		return s.response().Body, true
	}
	return nil, false
}

func hostGetBufferBytes(ctx context.Context, in *instance, mem api.Memory, a []uint64) proxywasm.Status {
	b, ok := in.buffer(proxywasm.Arg(a, 0))
	if !ok {
		return proxywasm.StatusNotFound
	}
	start, max := uint64(proxywasm.Arg(a, 1)), uint64(proxywasm.Arg(a, 2))
	if start > uint64(len(b)) {
		return proxywasm.StatusBadArgument
	}
	end := min(start+max, uint64(len(b)))
	if end == start {
		// Nothing to hand over: OK, and the return slots left as they are,
		// as the reference host does. The AssemblyScript SDK reads its
		// (empty) plugin config this way and traps on a zeroed pointer.
		return proxywasm.StatusOK
	}
	return in.give(ctx, mem, b[start:end], proxywasm.Arg(a, 3), proxywasm.Arg(a, 4))
}

func hostGetBufferStatus(_ context.Context, in *instance, mem api.Memory, a []uint64) proxywasm.Status {
	b, ok := in.buffer(proxywasm.Arg(a, 0))
	if !ok {
		return proxywasm.StatusNotFound
	}
	eos := uint32(1) // a body given whole
	if s := in.cur; s != nil && s.body.cur != nil && !s.body.cur.End && proxywasm.Arg(a, 0) <= proxywasm.BufferResponseBody {
		eos = 0
	}
	if mem == nil || !mem.WriteUint32Le(proxywasm.Arg(a, 1), uint32(len(b))) || !mem.WriteUint32Le(proxywasm.Arg(a, 2), eos) {
		return proxywasm.StatusInvalidMemoryAccess
	}
	return proxywasm.StatusOK
}

// hostSetBufferBytes edits a body as Envoy's Buffer::copyFrom does
// (envoy source/extensions/common/wasm/context.cc): start 0 and size 0
// prepends; start 0 and size ≥ length replaces the whole body; start ≥
// length appends; any other range is BAD_ARGUMENT.
func hostSetBufferBytes(_ context.Context, in *instance, mem api.Memory, a []uint64) proxywasm.Status {
	t := proxywasm.Arg(a, 0)
	if t != proxywasm.BufferRequestBody && t != proxywasm.BufferResponseBody {
		return proxywasm.StatusBadArgument
	}
	b, ok := in.buffer(t)
	if !ok {
		return proxywasm.StatusNotFound
	}
	data, ok := proxywasm.Read(mem, proxywasm.Arg(a, 3), proxywasm.Arg(a, 4))
	if !ok {
		return proxywasm.StatusInvalidMemoryAccess
	}
	start, size, n := uint64(proxywasm.Arg(a, 1)), uint64(proxywasm.Arg(a, 2)), uint64(len(b))
	var out []byte
	switch {
	case start == 0 && size == 0: // prepend
		out = append(append(make([]byte, 0, n+uint64(len(data))), data...), b...)
	case start == 0 && size >= n: // replace
		out = append([]byte{}, data...)
	case start >= n && start > 0: // append
		out = append(append(make([]byte, 0, n+uint64(len(data))), b...), data...)
	default:
		return proxywasm.StatusBadArgument
	}
	if uint64(len(out)) > uint64(in.p.opts.MaxBody) {
		return proxywasm.StatusBadArgument
	}
	s := in.cur
	if bc := s.body.cur; bc != nil && (t == proxywasm.BufferRequestBody) == (s.body.dir == proxywasm.PhaseRequest) {
		bc.Buf = out // the chain forwards it (core/filter/stream.go)
		return proxywasm.StatusOK
	}
	if t == proxywasm.BufferRequestBody {
		s.x.RequestBody = out
		r := s.request()
		r.Body = io.NopCloser(bytes.NewReader(out))
		r.ContentLength = int64(len(out))
		r.Header.Del("Content-Length")
	} else {
		s.response().Body = out
		s.response().Header.Del("Content-Length")
	}
	return proxywasm.StatusOK
}

func hostSendLocalResponse(_ context.Context, in *instance, mem api.Memory, a []uint64) proxywasm.Status {
	s := in.cur
	if s == nil {
		return proxywasm.StatusBadArgument
	}
	code := int(proxywasm.Arg(a, 0))
	if code < 200 || code > 599 {
		return proxywasm.StatusBadArgument
	}
	_, ok1 := proxywasm.Read(mem, proxywasm.Arg(a, 1), proxywasm.Arg(a, 2)) // details: not sent to the client
	body, ok2 := proxywasm.Read(mem, proxywasm.Arg(a, 3), proxywasm.Arg(a, 4))
	hb, ok3 := proxywasm.Read(mem, proxywasm.Arg(a, 5), proxywasm.Arg(a, 6))
	if !ok1 || !ok2 || !ok3 {
		return proxywasm.StatusInvalidMemoryAccess
	}
	pairs, ok := proxywasm.ParseMap(hb)
	if !ok {
		return proxywasm.StatusBadArgument
	}
	h := make(http.Header, len(pairs))
	for _, p := range pairs {
		if strings.HasPrefix(p.K, ":") {
			continue
		}
		if !wasmrt.ValidHeader(p.K, p.V) {
			return proxywasm.StatusBadArgument
		}
		h.Add(p.K, p.V)
	}
	if len(body) > 0 && len(h["Content-Type"]) == 0 {
		// Envoy's local reply (source/common/http/utility.cc,
		// sendLocalReply): a body the filter gave no type is text/plain,
		// without the charset net/http would sniff.
		h["Content-Type"] = []string{"text/plain"}
	}
	s.local = &filter.Response{Status: code, Header: h, Body: append([]byte{}, body...), Local: true}
	s.wakeUp() // a held stream answered from another context
	return proxywasm.StatusOK
}

// putU64 is a little-endian u64, as numeric properties are returned.
func putU64(dst []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(dst, v) }
