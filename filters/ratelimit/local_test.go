package ratelimit

import (
	"runtime"
	"testing"
	"time"
)

func TestLocalGCRA(t *testing.T) {
	l := newLocal(100*time.Millisecond, 5, 1024) // 10/s, burst 5
	const key = 42
	now := int64(time.Hour)
	for i := range 5 {
		d := l.allow(key, now)
		if !d.allowed || d.remaining != int64(4-i) {
			t.Fatalf("request %d: %+v, want allowed with %d remaining", i+1, d, 4-i)
		}
	}
	d := l.allow(key, now)
	if d.allowed || d.retry != 100*time.Millisecond || d.reset != 500*time.Millisecond {
		t.Fatalf("6th request at once: %+v, want refused, retry 100ms, reset 500ms", d)
	}
	// Refusals must not consume: a client hammering while limited gets
	// exactly the rate once it is due, not a lockout.
	for range 1000 {
		l.allow(key, now+int64(50*time.Millisecond))
	}
	if d := l.allow(key, now+int64(100*time.Millisecond)); !d.allowed || d.remaining != 0 {
		t.Fatalf("after 100ms: %+v, want one request admitted (refusals consumed nothing)", d)
	}
	if d := l.allow(key, now+int64(100*time.Millisecond)); d.allowed {
		t.Fatalf("second request after 100ms admitted: %+v", d)
	}
	// Idle for a whole burst: full again.
	if d := l.allow(key, now+int64(10*time.Second)); !d.allowed || d.remaining != 4 {
		t.Fatalf("after idling: %+v, want a full burst", d)
	}
	if d := l.allow(key+1, now); !d.allowed {
		t.Fatal("another key must have its own bucket")
	}
}

// TestLocalMemoryIsBounded drives millions of distinct keys through a
// limiter bounded to 64Ki keys: the key count never passes the bound and
// the heap stays flat however many keys go by.
func TestLocalMemoryIsBounded(t *testing.T) {
	n := 3_000_000
	if testing.Short() {
		n = 300_000
	}
	const maxKeys = 1 << 16
	l := newLocal(time.Second, 10, maxKeys) // keys stay live 10s: eviction, not expiry, must bound them
	now := int64(time.Hour)
	heapAfter := func(keys int, from uint64) uint64 {
		for i := range keys {
			l.allow(from+uint64(i)*0x9e3779b97f4a7c15, now+int64(i)) // spread over shards
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	warm := heapAfter(maxKeys*2, 1)
	after := heapAfter(n, 1<<40)
	if got := l.size(); got > maxKeys {
		t.Errorf("limiter holds %d keys, bound is %d", got, maxKeys)
	}
	if got := l.size(); got < maxKeys*9/10 {
		t.Errorf("limiter holds %d keys; eviction should keep it near the bound %d", got, maxKeys)
	}
	if growth := int64(after) - int64(warm); growth > 4<<20 {
		t.Errorf("heap grew %d bytes over %d more keys; want flat (< 4MiB)", growth, n)
	}
	t.Logf("%d keys: heap %d -> %d bytes, %d kept", n, warm, after, l.size())
}

func TestLocalEvictsIdleFirst(t *testing.T) {
	l := newLocal(time.Millisecond, 1, numShards*minShardSlots)
	now := int64(time.Hour)
	busy := uint64(7)
	l.allow(busy, now+int64(time.Minute)) // its TAT is far in the future
	for i := range uint64(10_000) {
		l.allow(busy+numShards*(i+1), now+int64(i)) // same shard, all idle soon
	}
	if d := l.allow(busy, now+int64(time.Minute)); d.allowed {
		t.Error("the busy key was evicted ahead of idle ones: its burst came back")
	}
}

func BenchmarkLocalExistingKey(b *testing.B) {
	l := newLocal(time.Nanosecond, 1<<30, 1<<16)
	l.allow(1, clock())
	b.ReportAllocs()
	for b.Loop() {
		l.allow(1, clock())
	}
}

func BenchmarkLocalExistingKeyParallel(b *testing.B) {
	l := newLocal(time.Nanosecond, 1<<30, 1<<16)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		k := uint64(time.Now().UnixNano())
		for pb.Next() {
			k++
			l.allow(k%1024, clock())
		}
	})
}
