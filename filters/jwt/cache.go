package jwt

import (
	"cmp"
	"crypto/sha256"
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/identity"
)

// tokenCache remembers tokens that passed every check of one filter config,
// by SHA-256 of the token, until min(exp, now+ttl), so a hot token costs a
// hash and a map lookup instead of a signature check. It is bounded: a full
// shard first drops expired entries, then arbitrary ones.
//
// An entry records the generation of the key set that verified it and only
// counts while that set is current: a JWKS refresh that changes the keys
// (a rotation, a revoked key) sends every cached token through a full check
// again. A token revoked at the issuer without a key change stays accepted
// until its entry expires; keep ttl short where that matters.
type tokenCache struct {
	ttl      time.Duration
	perShard int
	shards   [cacheShards]cacheShard
}

const cacheShards = 16

type cacheShard struct {
	mu sync.RWMutex
	m  map[[32]byte]*verified
}

// verified is what a token's full check produced.
type verified struct {
	expires  int64  // unix nanoseconds
	gen      uint64 // key set generation
	consumer *identity.Consumer
	headers  []claimHeader
	claims   map[string]any
}

type claimHeader struct {
	name  string
	value []string // len == cap == 1
}

// tokensKey shares a tokenCache across reloads that change nothing a
// cached verification depends on: this config, the consumers, and the key
// material (keys from a URL have their own generation).
type tokensKey struct {
	config [sha256.Size]byte // of the filter's config and the consumers
	keys   [sha256.Size]byte // of the key file or secret; zero for a URL
}

// tokenCache returns the cache of verified tokens, kept across a reload
// that leaves everything it depends on as it was; keys is the digest
// keySource returned.
func (c *Config) tokenCache(bc *filter.BuildContext, keys [sha256.Size]byte) (*tokenCache, error) {
	ttl := orDefault(c.CacheTTL, DefaultCacheTTL)
	size := cmp.Or(c.CacheSize, DefaultCacheSize)
	h := sha256.New()
	_ = json.NewEncoder(h).Encode(c)
	writeConsumers(h, bc.Config) // consumers.go
	k := tokensKey{keys: keys}
	h.Sum(k.config[:0])
	v, err := bc.Keep(k, func() (io.Closer, error) { return newTokenCache(ttl, size), nil })
	if err != nil {
		return nil, err
	}
	return v.(*tokenCache), nil
}

func newTokenCache(ttl time.Duration, size int) *tokenCache {
	c := &tokenCache{ttl: ttl, perShard: max(1, size/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = map[[32]byte]*verified{}
	}
	return c
}

// Close lets the cache be kept across reloads with BuildContext.Keep.
func (c *tokenCache) Close() error { return nil }

func (c *tokenCache) get(k [32]byte, now int64, gen uint64) *verified {
	s := &c.shards[k[0]%cacheShards]
	s.mu.RLock()
	v := s.m[k]
	s.mu.RUnlock()
	if v == nil || now >= v.expires || v.gen != gen {
		return nil
	}
	return v
}

func (c *tokenCache) put(k [32]byte, v *verified, exp time.Time, now time.Time) {
	until := now.Add(c.ttl)
	if !exp.IsZero() && exp.Before(until) {
		until = exp
	}
	if !until.After(now) {
		return
	}
	v.expires = until.UnixNano()
	s := &c.shards[k[0]%cacheShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= c.perShard {
		n := now.UnixNano()
		for key, e := range s.m {
			if n >= e.expires {
				delete(s.m, key)
			}
		}
		for key := range s.m {
			if len(s.m) < c.perShard {
				break
			}
			delete(s.m, key)
		}
	}
	s.m[k] = v
}

func (c *tokenCache) len() int {
	n := 0
	for i := range c.shards {
		c.shards[i].mu.RLock()
		n += len(c.shards[i].m)
		c.shards[i].mu.RUnlock()
	}
	return n
}
