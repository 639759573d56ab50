package wasm

import (
	"context"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/proxywasm"
)

// The shared-queue host functions; the queues are internal/proxywasm's,
// owned by instances: an enqueue wakes the first live one that registered
// the queue, with proxy_on_queue_ready on the root context of the
// configuration in force.

var queues = proxywasm.NewQueues(queueReady)

// queueReady runs proxy_on_queue_ready on owner's newest root context;
// false if owner's plugin is closing.
func queueReady(owner *instance, id uint32) bool {
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

func hostRegisterQueue(_ context.Context, in *instance, mem api.Memory, a []uint64) proxywasm.Status {
	name, ok := read(mem, arg(a, 0), arg(a, 1))
	if !ok || mem == nil {
		return proxywasm.StatusInvalidMemoryAccess
	}
	if _, ok := mem.Read(arg(a, 2), 4); !ok {
		return proxywasm.StatusInvalidMemoryAccess
	}
	id := queues.Register(in.p.opts.VMID, string(name), in)
	mem.WriteUint32Le(arg(a, 2), id)
	return proxywasm.StatusOK
}

func hostResolveQueue(_ context.Context, in *instance, mem api.Memory, a []uint64) proxywasm.Status {
	vm, ok1 := read(mem, arg(a, 0), arg(a, 1))
	name, ok2 := read(mem, arg(a, 2), arg(a, 3))
	if !ok1 || !ok2 || mem == nil {
		return proxywasm.StatusInvalidMemoryAccess
	}
	v := string(vm)
	if v == "" {
		v = in.p.opts.VMID
	}
	id, found := queues.Resolve(v, string(name))
	if !found {
		return proxywasm.StatusNotFound
	}
	if !mem.WriteUint32Le(arg(a, 4), id) {
		return proxywasm.StatusInvalidMemoryAccess
	}
	return proxywasm.StatusOK
}

func hostEnqueue(_ context.Context, _ *instance, mem api.Memory, a []uint64) proxywasm.Status {
	q := queues.ByID(arg(a, 0))
	if q == nil {
		return proxywasm.StatusNotFound
	}
	v, ok := read(mem, arg(a, 1), arg(a, 2))
	if !ok {
		return proxywasm.StatusInvalidMemoryAccess
	}
	return q.Enqueue(v)
}

func hostDequeue(ctx context.Context, in *instance, mem api.Memory, a []uint64) proxywasm.Status {
	q := queues.ByID(arg(a, 0))
	if q == nil {
		return proxywasm.StatusNotFound
	}
	v, st := q.Dequeue()
	if st != proxywasm.StatusOK {
		return st
	}
	return in.give(ctx, mem, v, arg(a, 1), arg(a, 2))
}

// unregisterQueues forgets a closing plugin's instances as queue owners.
func unregisterQueues(p *Plugin) {
	queues.Forget(func(o *instance) bool { return o.p == p })
}
