package cache

import (
	"context"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmgate/wasmgate/core/filter"
)

// Store keeps entries. Get returns nil, nil on a miss; ttl is how long the
// store may keep an entry (its freshness and the stale time it may still
// be used for). Entries are never changed once given to Set.
type Store interface {
	Get(ctx context.Context, key string) (*Entry, error)
	Set(ctx context.Context, key string, e *Entry, ttl time.Duration) error
	// Purge removes the entry at key and its variants, or with prefix
	// every entry whose key starts with key; it returns how many went.
	Purge(ctx context.Context, key string, prefix bool) (int, error)
	Stats() Stats
	Close() error
}

// Stats count what a store holds and has dropped.
type Stats struct {
	Entries   int64  `json:"entries"`
	Bytes     int64  `json:"bytes"`
	MaxBytes  int64  `json:"max_bytes,omitempty"`
	Evictions uint64 `json:"evictions"`
	// StoreErrors counts commands a remote store failed (each a miss).
	StoreErrors uint64 `json:"store_errors,omitempty"`
}

// memoryShards splits the store so that hits on different keys rarely
// meet on one lock.
const memoryShards = 16

// memory is the in-process store: bounded by bytes, least recently used
// entries evicted first. LRU rather than S3-FIFO or W-TinyLFU: an HTTP
// cache's entries already carry their own expiry, most eviction happens by
// TTL, and LRU's one weakness (a scan flushing the hot set) needs a scan of
// distinct cacheable URLs larger than the store, which the byte bound and
// max_object_size make costly for a client; its promotion is one pointer
// move under a shard's lock.
type memory struct {
	seed      maphash.Seed
	shards    [memoryShards]shard
	maxBytes  int64
	evictions atomic.Uint64
	counted   *filter.Counter // the route's evictions metric
	now       func() time.Time
}

type shard struct {
	mu       sync.Mutex
	m        map[string]*node
	head     node // sentinel: head.next is the most recently used
	bytes    int64
	maxBytes int64
}

type node struct {
	key        string
	e          *Entry
	size       int64
	expires    time.Time
	prev, next *node
}

func newMemory(maxBytes int64, now func() time.Time, evictions *filter.Counter) *memory {
	if evictions == nil {
		evictions = new(filter.Counter)
	}
	m := &memory{seed: maphash.MakeSeed(), maxBytes: maxBytes, now: now, counted: evictions}
	for i := range m.shards {
		s := &m.shards[i]
		s.m = make(map[string]*node)
		s.head.next, s.head.prev = &s.head, &s.head
		s.maxBytes = maxBytes / memoryShards
	}
	return m
}

func (m *memory) shard(key string) *shard {
	// Variants share their primary key's shard, so that a purge of a key
	// finds them all in one place.
	if i := strings.IndexByte(key, 0); i >= 0 {
		key = key[:i]
	}
	return &m.shards[maphash.String(m.seed, key)%memoryShards]
}

func (m *memory) Get(_ context.Context, key string) (*Entry, error) {
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.m[key]
	if n == nil {
		return nil, nil
	}
	if !m.now().Before(n.expires) {
		s.remove(n)
		return nil, nil
	}
	s.unlink(n)
	s.pushFront(n)
	return n.e, nil
}

func (m *memory) Set(_ context.Context, key string, e *Entry, ttl time.Duration) error {
	size := e.size() + int64(len(key))
	s := m.shard(key)
	if size > s.maxBytes || ttl <= 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.m[key]; old != nil {
		s.remove(old)
	}
	n := &node{key: key, e: e, size: size, expires: m.now().Add(ttl)}
	s.m[key] = n
	s.pushFront(n)
	s.bytes += size
	for s.bytes > s.maxBytes {
		s.remove(s.head.prev)
		m.evictions.Add(1)
		m.counted.Inc()
	}
	return nil
}

func (m *memory) Purge(_ context.Context, key string, prefix bool) (int, error) {
	purged := 0
	for i := range m.shards {
		s := &m.shards[i]
		if !prefix && s != m.shard(key) {
			continue
		}
		s.mu.Lock()
		for k, n := range s.m {
			if k == key || strings.HasPrefix(k, key) && (prefix || k[len(key)] == 0) {
				s.remove(n)
				purged++
			}
		}
		s.mu.Unlock()
	}
	return purged, nil
}

func (m *memory) Stats() Stats {
	st := Stats{MaxBytes: m.maxBytes, Evictions: m.evictions.Load()}
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		st.Entries += int64(len(s.m))
		st.Bytes += s.bytes
		s.mu.Unlock()
	}
	return st
}

func (m *memory) Close() error { return nil }

func (s *shard) pushFront(n *node) {
	n.prev, n.next = &s.head, s.head.next
	s.head.next.prev = n
	s.head.next = n
}

func (s *shard) unlink(n *node) {
	n.prev.next, n.next.prev = n.next, n.prev
}

func (s *shard) remove(n *node) {
	s.unlink(n)
	delete(s.m, n.key)
	s.bytes -= n.size
}
