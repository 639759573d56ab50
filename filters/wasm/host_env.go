package wasm

import (
	"context"
	"encoding/binary"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/proxywasm"
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

// putU64 is a little-endian u64, as numeric properties are returned.
func putU64(dst []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(dst, v) }
