package proxywasm

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/core/filter"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/wasmrt"
)

// Buffers (proxy_get/set_buffer_bytes, proxy_get_buffer_status) and the
// local response. The body a body callback is given, or a held stream's,
// is the Stream's Body (filters/wasm's body.go streams and holds it).

// buffer returns the bytes of a buffer type, and whether it exists now.
func buffer(h Host, t uint32) ([]byte, bool) {
	switch t {
	case BufferPluginConfig:
		return h.PluginConfig(), true
	case BufferVMConfig:
		return h.VMConfig(), true
	case BufferCallResponse:
		if c := h.Delivering(); c != nil {
			return c.Body, true
		}
		return nil, false
	}
	x, st := h.Current()
	if st == nil {
		return nil, false
	}
	s := exchange{x, st}
	// The body a body callback is being given, or the held stream's
	// (body.go); with `bodies:`, the whole body through its phase.
	if b := s.s.Body; b != nil && (t == BufferRequestBody) == (s.s.BodyDir == PhaseRequest) && t <= BufferResponseBody {
		return b.Buf, true
	}
	switch t {
	case BufferRequestBody:
		if !h.Bodies(true) || s.s.Phase != PhaseRequest {
			return nil, false
		}
		return s.x.RequestBody, true
	case BufferResponseBody:
		if !h.Bodies(false) || s.response() == nil {
			return nil, false
		}
		return s.response().Body, true
	}
	return nil, false
}

func hostGetBufferBytes(ctx context.Context, h Host, mem api.Memory, a []uint64) Status {
	b, ok := buffer(h, Arg(a, 0))
	if !ok {
		return StatusNotFound
	}
	start, max := uint64(Arg(a, 1)), uint64(Arg(a, 2))
	if start > uint64(len(b)) {
		return StatusBadArgument
	}
	end := min(start+max, uint64(len(b)))
	if end == start {
		// Nothing to hand over: OK, and the return slots left as they are,
		// as the reference host does. The AssemblyScript SDK reads its
		// (empty) plugin config this way and traps on a zeroed pointer.
		return StatusOK
	}
	return Give(ctx, h, mem, b[start:end], Arg(a, 3), Arg(a, 4))
}

func hostGetBufferStatus(_ context.Context, h Host, mem api.Memory, a []uint64) Status {
	b, ok := buffer(h, Arg(a, 0))
	if !ok {
		return StatusNotFound
	}
	eos := uint32(1) // a body given whole
	if _, s := h.Current(); s != nil && s.Body != nil && !s.Body.End && Arg(a, 0) <= BufferResponseBody {
		eos = 0
	}
	if mem == nil || !mem.WriteUint32Le(Arg(a, 1), uint32(len(b))) || !mem.WriteUint32Le(Arg(a, 2), eos) {
		return StatusInvalidMemoryAccess
	}
	return StatusOK
}

// hostSetBufferBytes edits a body as Envoy's Buffer::copyFrom does
// (envoy source/extensions/common/wasm/context.cc): start 0 and size 0
// prepends; start 0 and size ≥ length replaces the whole body; start ≥
// length appends; any other range is BAD_ARGUMENT.
func hostSetBufferBytes(_ context.Context, h Host, mem api.Memory, a []uint64) Status {
	t := Arg(a, 0)
	if t != BufferRequestBody && t != BufferResponseBody {
		return StatusBadArgument
	}
	b, ok := buffer(h, t)
	if !ok {
		return StatusNotFound
	}
	data, ok := Read(mem, Arg(a, 3), Arg(a, 4))
	if !ok {
		return StatusInvalidMemoryAccess
	}
	start, size, n := uint64(Arg(a, 1)), uint64(Arg(a, 2)), uint64(len(b))
	var out []byte
	switch {
	case start == 0 && size == 0: // prepend
		out = append(append(make([]byte, 0, n+uint64(len(data))), data...), b...)
	case start == 0 && size >= n: // replace
		out = append([]byte{}, data...)
	case start >= n && start > 0: // append
		out = append(append(make([]byte, 0, n+uint64(len(data))), b...), data...)
	default:
		return StatusBadArgument
	}
	if uint64(len(out)) > uint64(h.MaxBody()) {
		return StatusBadArgument
	}
	x, st := h.Current()
	s := exchange{x, st}
	if bc := s.s.Body; bc != nil && (t == BufferRequestBody) == (s.s.BodyDir == PhaseRequest) {
		bc.Buf = out // the chain forwards it (core/filter/stream.go)
		return StatusOK
	}
	if t == BufferRequestBody {
		s.x.RequestBody = out
		r := s.request()
		r.Body = io.NopCloser(bytes.NewReader(out))
		r.ContentLength = int64(len(out))
		r.Header.Del("Content-Length")
	} else {
		s.response().Body = out
		s.response().Header.Del("Content-Length")
	}
	return StatusOK
}

func hostSendLocalResponse(_ context.Context, h Host, mem api.Memory, a []uint64) Status {
	_, s := h.Current()
	if s == nil {
		return StatusBadArgument
	}
	code := int(Arg(a, 0))
	if code < 200 || code > 599 {
		return StatusBadArgument
	}
	_, ok1 := Read(mem, Arg(a, 1), Arg(a, 2)) // details: not sent to the client
	body, ok2 := Read(mem, Arg(a, 3), Arg(a, 4))
	hb, ok3 := Read(mem, Arg(a, 5), Arg(a, 6))
	if !ok1 || !ok2 || !ok3 {
		return StatusInvalidMemoryAccess
	}
	pairs, ok := ParseMap(hb)
	if !ok {
		return StatusBadArgument
	}
	hdr := make(http.Header, len(pairs))
	for _, p := range pairs {
		if strings.HasPrefix(p.K, ":") {
			continue
		}
		if !wasmrt.ValidHeader(p.K, p.V) {
			return StatusBadArgument
		}
		hdr.Add(p.K, p.V)
	}
	if len(body) > 0 && len(hdr["Content-Type"]) == 0 {
		// Envoy's local reply (source/common/http/utility.cc,
		// sendLocalReply): a body the filter gave no type is text/plain,
		// without the charset net/http would sniff.
		hdr["Content-Type"] = []string{"text/plain"}
	}
	s.Local = &filter.Response{Status: code, Header: hdr, Body: append([]byte{}, body...), Local: true}
	h.Wake() // a held stream answered from another context
	return StatusOK
}
