package wasm

import (
	"context"
	"sync"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/proxywasm"
)

// Shared queues (proxy_register/resolve/enqueue/dequeue_shared_queue,
// proxy_on_queue_ready), process-wide, keyed by (vm id, name). Every
// instance of a plugin registers the same queue in its configuration; each
// enqueue wakes one of them (the first registered that is still live) with
// proxy_on_queue_ready on its root context, in the background.

// maxQueueItems bounds a queue: an enqueue beyond answers INTERNAL_FAILURE.
const maxQueueItems = 10000

type queueKey struct{ vm, name string }

type sharedQueue struct {
	id  uint32
	key queueKey

	mu       sync.Mutex
	items    [][]byte
	owners   []*instance // registered root contexts, oldest first
	pending  int         // proxy_on_queue_ready calls owed
	draining bool
}

var queues = struct {
	sync.Mutex
	byKey map[queueKey]*sharedQueue
	byID  map[uint32]*sharedQueue
	next  uint32
}{byKey: map[queueKey]*sharedQueue{}, byID: map[uint32]*sharedQueue{}}

func queueByID(id uint32) *sharedQueue {
	queues.Lock()
	defer queues.Unlock()
	return queues.byID[id]
}

func hostRegisterQueue(_ context.Context, in *instance, mem api.Memory, a []uint64) proxywasm.Status {
	name, ok := read(mem, arg(a, 0), arg(a, 1))
	if !ok || mem == nil {
		return proxywasm.StatusInvalidMemoryAccess
	}
	if _, ok := mem.Read(arg(a, 2), 4); !ok {
		return proxywasm.StatusInvalidMemoryAccess
	}
	k := queueKey{in.p.opts.VMID, string(name)}
	queues.Lock()
	q := queues.byKey[k]
	if q == nil {
		queues.next++
		q = &sharedQueue{id: queues.next, key: k}
		queues.byKey[k], queues.byID[q.id] = q, q
	}
	queues.Unlock()
	q.mu.Lock()
	live := q.owners[:0]
	seen := false
	for _, o := range q.owners {
		if o.Broken() {
			continue
		}
		seen = seen || o == in
		live = append(live, o)
	}
	q.owners = live
	if !seen {
		q.owners = append(q.owners, in)
	}
	q.mu.Unlock()
	mem.WriteUint32Le(arg(a, 2), q.id)
	return proxywasm.StatusOK
}

func hostResolveQueue(_ context.Context, in *instance, mem api.Memory, a []uint64) proxywasm.Status {
	vm, ok1 := read(mem, arg(a, 0), arg(a, 1))
	name, ok2 := read(mem, arg(a, 2), arg(a, 3))
	if !ok1 || !ok2 || mem == nil {
		return proxywasm.StatusInvalidMemoryAccess
	}
	k := queueKey{string(vm), string(name)}
	if k.vm == "" {
		k.vm = in.p.opts.VMID
	}
	queues.Lock()
	q := queues.byKey[k]
	queues.Unlock()
	if q == nil {
		return proxywasm.StatusNotFound
	}
	if !mem.WriteUint32Le(arg(a, 4), q.id) {
		return proxywasm.StatusInvalidMemoryAccess
	}
	return proxywasm.StatusOK
}

func hostEnqueue(_ context.Context, _ *instance, mem api.Memory, a []uint64) proxywasm.Status {
	q := queueByID(arg(a, 0))
	if q == nil {
		return proxywasm.StatusNotFound
	}
	v, ok := read(mem, arg(a, 1), arg(a, 2))
	if !ok {
		return proxywasm.StatusInvalidMemoryAccess
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) >= maxQueueItems {
		return proxywasm.StatusInternalFailure
	}
	q.items = append(q.items, append([]byte(nil), v...))
	q.pending++
	if !q.draining {
		q.draining = true
		go q.drain()
	}
	return proxywasm.StatusOK
}

func hostDequeue(ctx context.Context, in *instance, mem api.Memory, a []uint64) proxywasm.Status {
	q := queueByID(arg(a, 0))
	if q == nil {
		return proxywasm.StatusNotFound
	}
	q.mu.Lock()
	if len(q.items) == 0 {
		q.mu.Unlock()
		return proxywasm.StatusEmpty
	}
	v := q.items[0]
	q.items[0] = nil
	q.items = q.items[1:]
	q.mu.Unlock()
	return in.give(ctx, mem, v, arg(a, 1), arg(a, 2))
}

// drain makes the owed proxy_on_queue_ready calls, one at a time, each on
// the first live registered instance; with none, the calls are dropped
// (the items stay for whoever registers next).
func (q *sharedQueue) drain() {
	for {
		q.mu.Lock()
		var owner *instance
		for len(q.owners) > 0 && q.owners[0].Broken() {
			q.owners = q.owners[1:]
		}
		if len(q.owners) > 0 {
			owner = q.owners[0]
		}
		if q.pending == 0 || owner == nil {
			q.pending, q.draining = 0, false
			q.mu.Unlock()
			return
		}
		q.pending--
		q.mu.Unlock()
		p := owner.p
		if !p.host.enter() {
			q.forget(owner)
			continue
		}
		p.onRoot(owner, func() error {
			r := owner.newestRoot() // the configuration in force
			if r == nil {
				return nil
			}
			owner.root = r
			_, err := owner.call(proxywasm.OnQueueReady, uint64(r.id), uint64(q.id))
			return err
		})
		p.host.exit()
	}
}

func (q *sharedQueue) forget(in *instance) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, o := range q.owners {
		if o == in {
			q.owners = append(q.owners[:i:i], q.owners[i+1:]...)
			return
		}
	}
}

// unregisterQueues forgets a closing plugin's instances as queue owners.
func unregisterQueues(p *Plugin) {
	queues.Lock()
	all := make([]*sharedQueue, 0, len(queues.byID))
	for _, q := range queues.byID {
		all = append(all, q)
	}
	queues.Unlock()
	for _, q := range all {
		q.mu.Lock()
		kept := q.owners[:0]
		for _, o := range q.owners {
			if o.p != p {
				kept = append(kept, o)
			}
		}
		clear(q.owners[len(kept):])
		q.owners = kept
		q.mu.Unlock()
	}
}
