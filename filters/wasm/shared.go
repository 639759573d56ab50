package wasm

import (
	"context"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/proxywasm"
)

// The shared-data host functions; the stores are internal/proxywasm's.

func hostGetSharedData(ctx context.Context, in *instance, mem api.Memory, a []uint64) proxywasm.Status {
	key, ok := read(mem, arg(a, 0), arg(a, 1))
	if !ok || mem == nil {
		return proxywasm.StatusInvalidMemoryAccess
	}
	if _, ok := mem.Read(arg(a, 4), 4); !ok {
		return proxywasm.StatusInvalidMemoryAccess
	}
	v, cas, st := in.p.host.shared.Get(string(key))
	if st != proxywasm.StatusOK {
		return st
	}
	if st := in.give(ctx, mem, v, arg(a, 2), arg(a, 3)); st != proxywasm.StatusOK {
		return st
	}
	mem.WriteUint32Le(arg(a, 4), cas)
	return proxywasm.StatusOK
}

func hostSetSharedData(_ context.Context, in *instance, mem api.Memory, a []uint64) proxywasm.Status {
	key, ok1 := read(mem, arg(a, 0), arg(a, 1))
	val, ok2 := read(mem, arg(a, 2), arg(a, 3))
	if !ok1 || !ok2 {
		return proxywasm.StatusInvalidMemoryAccess
	}
	if len(key) == 0 {
		return proxywasm.StatusBadArgument
	}
	st := in.p.host.shared.Set(string(key), val, arg(a, 4))
	if st == proxywasm.StatusInternalFailure {
		in.p.logger.Warn("proxy_set_shared_data failed: over limits.shared_data, or the store is unreachable", "key", string(key))
	}
	return st
}
