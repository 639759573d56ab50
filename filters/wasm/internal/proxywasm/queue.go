package proxywasm

import (
	"context"
	"sync"

	"github.com/tetratelabs/wazero/api"
)

// Shared queues (proxy_register/resolve/enqueue/dequeue_shared_queue,
// proxy_on_queue_ready), process-wide, keyed by (vm id, name). Every
// instance of a plugin registers the same queue in its configuration; each
// enqueue wakes one of them (the first registered that is still live) with
// proxy_on_queue_ready on its root context, in the background.

// maxQueueItems bounds a queue: an enqueue beyond answers INTERNAL_FAILURE.
const maxQueueItems = 10000

// QueueOwner is what registers a queue: an instance, whose root context
// proxy_on_queue_ready runs in. A broken one is never woken again.
type QueueOwner interface {
	comparable
	Broken() bool
}

// Queues are the process's shared queues, owned by O.
type Queues[O QueueOwner] struct {
	mu    sync.Mutex
	byKey map[queueKey]*Queue[O]
	byID  map[uint32]*Queue[O]
	next  uint32
	// ready calls proxy_on_queue_ready(id) on owner's root context; false
	// if owner's plugin is closing (the owner is then forgotten).
	ready func(owner O, id uint32) bool
}

type queueKey struct{ vm, name string }

// Queue is one shared queue.
type Queue[O QueueOwner] struct {
	id  uint32
	key queueKey
	set *Queues[O]

	mu       sync.Mutex
	items    [][]byte
	owners   []O // registered root contexts, oldest first
	pending  int // proxy_on_queue_ready calls owed
	draining bool
}

// NewQueues returns an empty set of queues whose enqueues wake an owner
// with ready.
func NewQueues[O QueueOwner](ready func(owner O, id uint32) bool) *Queues[O] {
	return &Queues[O]{byKey: map[queueKey]*Queue[O]{}, byID: map[uint32]*Queue[O]{}, ready: ready}
}

// ByID is the queue with that id, or nil.
func (qs *Queues[O]) ByID(id uint32) *Queue[O] {
	qs.mu.Lock()
	defer qs.mu.Unlock()
	return qs.byID[id]
}

// Register creates the queue (vm, name) unless it exists, makes owner one
// of its owners (dropping broken ones) and returns its id.
func (qs *Queues[O]) Register(vm, name string, owner O) uint32 {
	k := queueKey{vm, name}
	qs.mu.Lock()
	q := qs.byKey[k]
	if q == nil {
		qs.next++
		q = &Queue[O]{id: qs.next, key: k, set: qs}
		qs.byKey[k], qs.byID[q.id] = q, q
	}
	qs.mu.Unlock()
	q.mu.Lock()
	live := q.owners[:0]
	seen := false
	for _, o := range q.owners {
		if o.Broken() {
			continue
		}
		seen = seen || o == owner
		live = append(live, o)
	}
	q.owners = live
	if !seen {
		q.owners = append(q.owners, owner)
	}
	q.mu.Unlock()
	return q.id
}

// Resolve is the id of the queue (vm, name), if it exists.
func (qs *Queues[O]) Resolve(vm, name string) (uint32, bool) {
	qs.mu.Lock()
	q := qs.byKey[queueKey{vm, name}]
	qs.mu.Unlock()
	if q == nil {
		return 0, false
	}
	return q.id, true
}

// Enqueue appends a copy of v and wakes an owner in the background.
func (q *Queue[O]) Enqueue(v []byte) Status {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) >= maxQueueItems {
		return StatusInternalFailure
	}
	q.items = append(q.items, append([]byte(nil), v...))
	q.pending++
	if !q.draining {
		q.draining = true
		go q.drain()
	}
	return StatusOK
}

// Dequeue takes the oldest item; EMPTY if there is none.
func (q *Queue[O]) Dequeue() ([]byte, Status) {
	q.mu.Lock()
	if len(q.items) == 0 {
		q.mu.Unlock()
		return nil, StatusEmpty
	}
	v := q.items[0]
	q.items[0] = nil
	q.items = q.items[1:]
	q.mu.Unlock()
	return v, StatusOK
}

// queues are the process's queues, owned by the Host of the instance
// whose root context registered them.
var queues = NewQueues(func(h Host, id uint32) bool { return h.QueueReady(id) })

// ForgetQueueOwners drops the owners gone tells (a closing plugin's
// instances) from every queue.
func ForgetQueueOwners(gone func(Host) bool) { queues.Forget(gone) }

func hostRegisterQueue(_ context.Context, h Host, mem api.Memory, a []uint64) Status {
	name, ok := Read(mem, Arg(a, 0), Arg(a, 1))
	if !ok || mem == nil {
		return StatusInvalidMemoryAccess
	}
	if _, ok := mem.Read(Arg(a, 2), 4); !ok {
		return StatusInvalidMemoryAccess
	}
	id := queues.Register(h.VMID(), string(name), h)
	mem.WriteUint32Le(Arg(a, 2), id)
	return StatusOK
}

func hostResolveQueue(_ context.Context, h Host, mem api.Memory, a []uint64) Status {
	vm, ok1 := Read(mem, Arg(a, 0), Arg(a, 1))
	name, ok2 := Read(mem, Arg(a, 2), Arg(a, 3))
	if !ok1 || !ok2 || mem == nil {
		return StatusInvalidMemoryAccess
	}
	v := string(vm)
	if v == "" {
		v = h.VMID()
	}
	id, found := queues.Resolve(v, string(name))
	if !found {
		return StatusNotFound
	}
	if !mem.WriteUint32Le(Arg(a, 4), id) {
		return StatusInvalidMemoryAccess
	}
	return StatusOK
}

func hostEnqueue(_ context.Context, _ Host, mem api.Memory, a []uint64) Status {
	q := queues.ByID(Arg(a, 0))
	if q == nil {
		return StatusNotFound
	}
	v, ok := Read(mem, Arg(a, 1), Arg(a, 2))
	if !ok {
		return StatusInvalidMemoryAccess
	}
	return q.Enqueue(v)
}

func hostDequeue(ctx context.Context, h Host, mem api.Memory, a []uint64) Status {
	q := queues.ByID(Arg(a, 0))
	if q == nil {
		return StatusNotFound
	}
	v, st := q.Dequeue()
	if st != StatusOK {
		return st
	}
	return Give(ctx, h, mem, v, Arg(a, 1), Arg(a, 2))
}

// drain makes the owed proxy_on_queue_ready calls, one at a time, each on
// the first live registered instance; with none, the calls are dropped
// (the items stay for whoever registers next).
func (q *Queue[O]) drain() {
	for {
		q.mu.Lock()
		var owner O
		var found bool
		for len(q.owners) > 0 && q.owners[0].Broken() {
			q.owners = q.owners[1:]
		}
		if len(q.owners) > 0 {
			owner, found = q.owners[0], true
		}
		if q.pending == 0 || !found {
			q.pending, q.draining = 0, false
			q.mu.Unlock()
			return
		}
		q.pending--
		q.mu.Unlock()
		if !q.set.ready(owner, q.id) {
			q.forget(owner)
		}
	}
}

func (q *Queue[O]) forget(owner O) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, o := range q.owners {
		if o == owner {
			q.owners = append(q.owners[:i:i], q.owners[i+1:]...)
			return
		}
	}
}

// Forget drops the owners gone tells (a closing plugin's instances) from
// every queue.
func (qs *Queues[O]) Forget(gone func(O) bool) {
	qs.mu.Lock()
	all := make([]*Queue[O], 0, len(qs.byID))
	for _, q := range qs.byID {
		all = append(all, q)
	}
	qs.mu.Unlock()
	for _, q := range all {
		q.mu.Lock()
		kept := q.owners[:0]
		for _, o := range q.owners {
			if !gone(o) {
				kept = append(kept, o)
			}
		}
		clear(q.owners[len(kept):])
		q.owners = kept
		q.mu.Unlock()
	}
}
