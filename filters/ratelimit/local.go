package ratelimit

import (
	"sync"
	"time"
)

// local is an in-process GCRA limiter over a sharded, bounded map.
//
// GCRA keeps one number per key, the theoretical arrival time (TAT): when
// the bucket would be full again. A request at now is admitted if
// TAT+interval-tolerance <= now, and then moves TAT on by one interval. A
// key whose TAT is in the past is the same as a key never seen, which is
// what makes eviction safe: idle keys carry no information.
//
// Memory is bounded by maxKeys: a shard that is full first sweeps its idle
// keys (at most once per tolerance, so a flood of new keys cannot make every
// insert a full scan), and if none are idle evicts the key closest to idle
// among a few sampled. An evicted busy key starts over with a full burst:
// the bound wins over exactness, and only under more live keys than maxKeys.
type local struct {
	interval  int64 // ns one request costs
	tolerance int64 // ns of burst: burst × interval
	perShard  int
	shards    [numShards]shard
}

const (
	numShards     = 64
	evictSamples  = 8
	cacheLinePad  = 64
	minShardSlots = 16
)

type shard struct {
	mu        sync.Mutex
	tat       map[uint64]int64 // key hash -> TAT, ns on the limiter's clock
	lastSweep int64
	_         [cacheLinePad]byte // keep hot shards off each other's cache lines
}

// decision is the outcome of one request against one policy.
type decision struct {
	allowed   bool
	remaining int64         // requests admitted right now (after this one)
	retry     time.Duration // when refused: until one would be admitted
	reset     time.Duration // until the full burst is available again
}

func newLocal(interval time.Duration, burst int64, maxKeys int) *local {
	l := &local{
		interval:  int64(interval),
		tolerance: int64(interval) * burst,
		perShard:  max(maxKeys/numShards, minShardSlots),
	}
	for i := range l.shards {
		l.shards[i].tat = make(map[uint64]int64)
	}
	return l
}

// clock is monotonic nanoseconds since process start: wall clock steps
// must not refill or drain buckets.
var clockBase = time.Now()

func clock() int64 { return int64(time.Since(clockBase)) }

// allow decides one request for key at now. A refused request changes
// nothing: it must not push the key's TAT out (rejected requests that
// consume tokens lock a busy client out for good).
func (l *local) allow(key uint64, now int64) decision {
	s := &l.shards[key%numShards]
	s.mu.Lock()
	tat, ok := s.tat[key]
	if tat < now {
		tat = now
	}
	next := tat + l.interval
	if allowAt := next - l.tolerance; now < allowAt {
		s.mu.Unlock()
		return decision{retry: time.Duration(allowAt - now), reset: time.Duration(tat - now)}
	}
	if !ok && len(s.tat) >= l.perShard {
		s.evict(now, l.tolerance, l.perShard)
	}
	s.tat[key] = next
	s.mu.Unlock()
	return decision{
		allowed:   true,
		remaining: (now + l.tolerance - next) / l.interval,
		reset:     time.Duration(next - now),
	}
}

// evict makes room for one key under limit. Called with s.mu held.
func (s *shard) evict(now, tolerance int64, limit int) {
	if now-s.lastSweep >= tolerance {
		s.lastSweep = now
		for k, t := range s.tat {
			if t <= now {
				delete(s.tat, k)
			}
		}
	}
	for len(s.tat) >= limit {
		var victim uint64
		oldest, n := int64(1<<63-1), 0
		for k, t := range s.tat { // map order is random: a fair sample
			if t < oldest {
				victim, oldest = k, t
			}
			if n++; n == evictSamples {
				break
			}
		}
		delete(s.tat, victim)
	}
}

// size is the number of keys held, for tests and metrics.
func (l *local) size() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.tat)
		s.mu.Unlock()
	}
	return n
}

// Close lets a kept limiter be dropped with the snapshots that used it.
func (l *local) Close() error { return nil }
