package gateway

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// After a burst the gateway keeps two kinds of memory it no longer needs,
// for as long as it stays quiet:
//
//   - freed heap: the Go runtime keeps it mapped for reuse and returns it
//     to the OS only down to about its next heap goal, twice the live heap;
//   - goroutine stacks: a connection's goroutine grows its stack while it
//     serves a request and keeps it while it waits on keep-alive; stacks
//     shrink only in a collection, and a quiet gateway allocates too little
//     to start one.
//
// 10,000 clients that connected, were answered and now idle on keep-alive
// hold 121 MB that way, of which a collection and a release give back most.
// The watcher does that once memory is clearly not being reused: little
// allocated since its last look, and a lot of heap free or of stack grown
// since its last collection. Under traffic the allocation rate keeps it
// quiet, so steady load pays nothing; it is what Envoy's shrink_heap
// overload action does for tcmalloc.
const (
	freeHeapEvery = 10 * time.Second
	// reclaimMin is the free heap, or the stack growth, worth a collection.
	reclaimMin = 16 << 20
	// quietAllocs is what a gateway allocates between looks and still counts
	// as quiet: under 0.4 MB/s, about 70 requests a second.
	quietAllocs = 4 << 20
)

// freeHeapWatch holds what it saw at its last look and its last collection.
type freeHeapWatch struct {
	samples     [3]metrics.Sample
	allocs      uint64 // /gc/heap/allocs:bytes at the last look
	stacksAfter uint64 // stack bytes after the last collection it made
	started     bool
}

func newFreeHeapWatch() *freeHeapWatch {
	w := &freeHeapWatch{}
	w.samples[0].Name = "/memory/classes/heap/free:bytes" // free, mapped, not yet released
	w.samples[1].Name = "/memory/classes/heap/stacks:bytes"
	w.samples[2].Name = "/gc/heap/allocs:bytes"
	return w
}

// run looks every interval until ctx ends.
func (w *freeHeapWatch) run(ctx context.Context, interval time.Duration) {
	every(ctx, interval, func(time.Time) { w.check() })
}

// check collects and returns memory to the OS when it is worth it, and
// says whether it did.
func (w *freeHeapWatch) check() bool {
	metrics.Read(w.samples[:])
	free, stacks, allocs := w.samples[0].Value.Uint64(), w.samples[1].Value.Uint64(), w.samples[2].Value.Uint64()
	since := allocs - w.allocs
	first := !w.started
	w.allocs, w.started = allocs, true
	if first || !worthReclaiming(free, stacks, w.stacksAfter, since) {
		return false
	}
	debug.FreeOSMemory()
	metrics.Read(w.samples[:])
	w.stacksAfter, w.allocs = w.samples[1].Value.Uint64(), w.samples[2].Value.Uint64()
	return true
}

// worthReclaiming decides from the free heap, the stack bytes now and after
// the watcher's last collection, and the bytes allocated since its last
// look.
func worthReclaiming(free, stacks, stacksAfter, allocatedSince uint64) bool {
	if allocatedSince >= quietAllocs {
		return false
	}
	return free >= reclaimMin || stacks >= stacksAfter+reclaimMin
}
