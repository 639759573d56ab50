package proxywasm

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/filters/internal/stores"
)

// Shared data (proxy_get_shared_data, proxy_set_shared_data): key/value
// pairs per vm id, process-wide in memory, or in Redis so that every
// gateway shares them. Each value carries a CAS number; a set with a
// non-zero CAS that is not the current one fails with CAS_MISMATCH, as in
// the reference host (a set with a CAS on a missing key succeeds).

// SharedStore is one vm id's shared data, as a plugin sees it (with its
// own bound on the size).
type SharedStore interface {
	Get(key string) (value []byte, cas uint32, st Status)
	Set(key string, value []byte, cas uint32) Status
}

func hostGetSharedData(ctx context.Context, h Host, mem api.Memory, a []uint64) Status {
	key, ok := Read(mem, Arg(a, 0), Arg(a, 1))
	if !ok || mem == nil {
		return StatusInvalidMemoryAccess
	}
	if _, ok := mem.Read(Arg(a, 4), 4); !ok {
		return StatusInvalidMemoryAccess
	}
	v, cas, st := h.Shared().Get(string(key))
	if st != StatusOK {
		return st
	}
	if st := Give(ctx, h, mem, v, Arg(a, 2), Arg(a, 3)); st != StatusOK {
		return st
	}
	mem.WriteUint32Le(Arg(a, 4), cas)
	return StatusOK
}

func hostSetSharedData(_ context.Context, h Host, mem api.Memory, a []uint64) Status {
	key, ok1 := Read(mem, Arg(a, 0), Arg(a, 1))
	val, ok2 := Read(mem, Arg(a, 2), Arg(a, 3))
	if !ok1 || !ok2 {
		return StatusInvalidMemoryAccess
	}
	if len(key) == 0 {
		return StatusBadArgument
	}
	st := h.Shared().Set(string(key), val, Arg(a, 4))
	if st == StatusInternalFailure {
		h.Logger().Warn("proxy_set_shared_data failed: over limits.shared_data, or the store is unreachable", "key", string(key))
	}
	return st
}

// memStore is one vm id's in-process shared data.
type memStore struct {
	mu   sync.Mutex
	m    map[string]sharedEntry
	size int64 // keys plus values
	cas  uint32
}

type sharedEntry struct {
	v   []byte
	cas uint32
}

var memStores = struct {
	sync.Mutex
	m map[string]*memStore
}{m: map[string]*memStore{}}

// memView is a plugin's view of its vm id's store, with its own bound.
type memView struct {
	s     *memStore
	limit int64
}

// MemShared is vm id's in-process store, bounded at limit bytes of keys
// and values for this view.
func MemShared(vmID string, limit int64) SharedStore {
	memStores.Lock()
	defer memStores.Unlock()
	s := memStores.m[vmID]
	if s == nil {
		s = &memStore{m: map[string]sharedEntry{}}
		memStores.m[vmID] = s
	}
	return memView{s: s, limit: limit}
}

func (v memView) Get(key string) ([]byte, uint32, Status) {
	v.s.mu.Lock()
	e, ok := v.s.m[key]
	v.s.mu.Unlock()
	if !ok {
		return nil, 0, StatusNotFound
	}
	return e.v, e.cas, StatusOK // e.v is never written again: a set stores a new slice
}

func (v memView) Set(key string, value []byte, cas uint32) Status {
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	old, exists := s.m[key]
	if exists && cas != 0 && cas != old.cas {
		return StatusCasMismatch
	}
	size := s.size + int64(len(value))
	if exists {
		size -= int64(len(old.v))
	} else {
		size += int64(len(key))
	}
	if size > v.limit {
		return StatusInternalFailure
	}
	if s.cas++; s.cas == 0 {
		s.cas = 1
	}
	s.m[key] = sharedEntry{v: append([]byte(nil), value...), cas: s.cas}
	s.size = size
	return StatusOK
}

// RedisShared keeps shared data in Redis: one hash per key (v: the value,
// c: its CAS), under KEY_PREFIX{wasm:shared:VM_ID:KEY}: the hash tag is the
// whole key, so a cluster spreads keys over slots and the script's one key
// is in one. A set is one Lua script, so the CAS check and the write are
// atomic across gateways.
type RedisShared struct {
	client  redis.UniversalClient
	refresh *stores.SlotRefresh
	prefix  string
	limit   int64 // per value
	timeout time.Duration
}

var casScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'c')
local cas = tonumber(ARGV[2])
if cas ~= 0 and cur and tonumber(cur) ~= cas then return -1 end
local n = (tonumber(cur) or 0) % 4294967295 + 1
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'c', n)
return n
`)

// NewRedisShared is vm id's store in Redis, values bounded at limit bytes.
func NewRedisShared(rc *stores.Redis, logger *slog.Logger, vmID string, limit int64) (*RedisShared, error) {
	client, err := rc.NewClient(logger)
	if err != nil {
		return nil, err
	}
	return &RedisShared{
		client:  client,
		refresh: stores.NewSlotRefresh(client),
		timeout: rc.Timeout(),
		prefix:  rc.KeyPrefix + "{wasm:shared:" + vmID + ":",
		limit:   limit,
	}, nil
}

// key is the Redis key of a shared-data key.
func (r *RedisShared) key(k string) string { return r.prefix + k + "}" }

func (r *RedisShared) Get(key string) ([]byte, uint32, Status) {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	vals, err := r.client.HMGet(ctx, r.key(key), "v", "c").Result()
	if err != nil {
		r.refresh.After(err)
		return nil, 0, StatusInternalFailure
	}
	v, ok1 := vals[0].(string)
	c, ok2 := vals[1].(string)
	if !ok1 || !ok2 {
		return nil, 0, StatusNotFound
	}
	cas, err := strconv.ParseUint(c, 10, 32)
	if err != nil {
		return nil, 0, StatusInternalFailure
	}
	return []byte(v), uint32(cas), StatusOK
}

func (r *RedisShared) Set(key string, value []byte, cas uint32) Status {
	if int64(len(value)) > r.limit {
		return StatusInternalFailure
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	n, err := casScript.Run(ctx, r.client, []string{r.key(key)}, value, cas).Int64()
	r.refresh.After(err)
	switch {
	case errors.Is(err, redis.Nil), err != nil:
		return StatusInternalFailure
	case n < 0:
		return StatusCasMismatch
	}
	return StatusOK
}

// Close closes the Redis client.
func (r *RedisShared) Close() { _ = r.client.Close() }
