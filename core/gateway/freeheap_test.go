package gateway

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
)

func TestWorthReclaiming(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		free, stacks, stacksAfter, since uint64
		want                             bool
	}{
		{0, 0, 0, 0, false},
		{reclaimMin - 1, 1 * mb, 0, 0, false},       // too little to be worth a collection
		{reclaimMin, 1 * mb, 0, 0, true},            // a quiet gateway after a burst
		{64 * mb, 1 * mb, 0, quietAllocs - 1, true}, // light traffic
		{64 * mb, 1 * mb, 0, quietAllocs, false},    // traffic: its own collections will come
		{64 * mb, 1 * mb, 0, 1 << 30, false},        // steady load
		{0, 40 * mb, 0, 0, true},                    // idle connections' grown stacks
		{0, 40 * mb, 30 * mb, 0, false},             // the stacks left by the last collection
		{0, 46 * mb, 30 * mb, 0, true},              // grown again since
		{0, 46 * mb, 30 * mb, quietAllocs, false},
	} {
		if got := worthReclaiming(c.free, c.stacks, c.stacksAfter, c.since); got != c.want {
			t.Errorf("worthReclaiming(free %d, stacks %d, after %d, allocated %d) = %v, want %v",
				c.free, c.stacks, c.stacksAfter, c.since, got, c.want)
		}
	}
}

var sink [][]byte

// A burst's garbage: the first look only records the allocation counter;
// the next, with the garbage free and nothing allocated since, gives it
// back; the one after finds nothing to do.
func TestFreeHeapWatchReturnsABurstsGarbage(t *testing.T) {
	w := newFreeHeapWatch()
	w.check() // a baseline of stacks for the check below
	for range 1024 {
		sink = append(sink, make([]byte, 64<<10))
	}
	sink = nil
	runtime.GC()
	if w.check() {
		t.Fatal("the first look after the burst returned memory; it only records the allocation counter")
	}
	if free := readMetric("/memory/classes/heap/free:bytes"); free < reclaimMin {
		t.Skipf("the runtime already released the burst (free heap %d B): nothing to test", free)
	}
	if !w.check() {
		t.Fatalf("free heap %d B, nothing allocated since: not returned", readMetric("/memory/classes/heap/free:bytes"))
	}
	if free := readMetric("/memory/classes/heap/free:bytes"); free >= reclaimMin {
		t.Errorf("free heap %d B after the return, want below %d", free, reclaimMin)
	}
	if w.check() {
		t.Error("collected again with nothing to reclaim")
	}
}

// Goroutines that grew their stacks and now wait, as idle keep-alive
// connections do: the watcher's collection shrinks the stacks.
func TestFreeHeapWatchShrinksIdleStacks(t *testing.T) {
	w := newFreeHeapWatch()
	runtime.GC()
	w.check()
	w.stacksAfter = readMetric("/memory/classes/heap/stacks:bytes")
	release := make(chan struct{})
	var parked sync.WaitGroup
	const n = 1000
	parked.Add(n)
	for range n {
		go func() {
			grow(200) // a few KiB of frames per level: the stack grows to 32 KiB or more
			parked.Done()
			<-release
		}()
	}
	parked.Wait()
	defer close(release)
	grown := readMetric("/memory/classes/heap/stacks:bytes")
	if grown < w.stacksAfter+reclaimMin {
		t.Fatalf("stacks %d B after growing %d goroutines, want over %d", grown, n, w.stacksAfter+reclaimMin)
	}
	// The goroutines allocated little: the first look may collect already.
	if !w.check() && !w.check() {
		t.Fatalf("stacks at %d B, %d B over the last collection, nothing allocated: not collected", grown, grown-w.stacksAfter)
	}
	if after := readMetric("/memory/classes/heap/stacks:bytes"); after > grown*3/4 {
		t.Errorf("stacks %d B after the collection, want them shrunk (a collection halves a stack using under a quarter of it) from %d B", after, grown)
	}
}

//go:noinline
func grow(depth int) byte {
	var frame [256]byte
	frame[depth%256] = byte(depth)
	if depth == 0 {
		return frame[0]
	}
	return grow(depth-1) + frame[depth%256]
}

// Allocating a few MiB between looks keeps the watcher from collecting.
func TestFreeHeapWatchLeavesAHeapInUse(t *testing.T) {
	w := newFreeHeapWatch()
	for range 1024 {
		sink = append(sink, make([]byte, 64<<10))
	}
	sink = nil
	runtime.GC()
	w.check()
	if free := readMetric("/memory/classes/heap/free:bytes"); free < reclaimMin {
		t.Skipf("the runtime already released the burst (free heap %d B): nothing to test", free)
	}
	for range quietAllocs/(64<<10) + 16 {
		sink = append(sink, make([]byte, 64<<10))
	}
	if w.check() {
		t.Errorf("collected while %d B were allocated since the last look", quietAllocs)
	}
	sink = nil
}

func readMetric(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
