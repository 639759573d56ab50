package cache

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wasmgate/wasmgate/filters/internal/stores"
)

// redisStore keeps entries in the stores.redis server, shared by every
// gateway instance: one Redis string per entry, written with a TTL (SET
// PX), under
//
//	<stores.redis.key_prefix>cache:<route>:<key>
//
// The per-object bound is max_object_size, as for memory; the total bound
// is the Redis server's own (maxmemory with an LRU or LFU policy). A Redis
// that cannot answer is a miss, never an error for the client.
type redisStore struct {
	client  *redis.Client
	prefix  string // key_prefix + "cache:" + route + ":"
	timeout time.Duration
	logger  *slog.Logger
	errs    atomic.Uint64
	// downUntil (Unix nanoseconds): after a failure to reach Redis, the
	// store answers miss at once for a second instead of every request
	// waiting out a dial timeout.
	downUntil atomic.Int64
}

// downFor is how long an unreachable Redis is left alone.
const downFor = time.Second

func (s *redisStore) down() bool { return time.Now().UnixNano() < s.downUntil.Load() }

func newRedisStore(rc *stores.Redis, client *redis.Client, route string, logger *slog.Logger) *redisStore {
	return &redisStore{client: client, prefix: rc.KeyPrefix + "cache:" + route + ":", timeout: rc.Timeout(), logger: logger}
}

func (s *redisStore) ctx(parent context.Context) (context.Context, context.CancelFunc) {
	if parent == nil {
		parent = context.Background()
	}
	return context.WithTimeout(parent, s.timeout)
}

func (s *redisStore) fail(op string, err error) error {
	s.errs.Add(1)
	var rerr redis.Error
	if op != "decode" && !errors.As(err, &rerr) {
		s.downUntil.Store(time.Now().Add(downFor).UnixNano())
	}
	s.logger.Debug("cache store failed; treated as a miss", "op", op, "err", err)
	return err
}

func (s *redisStore) Get(parent context.Context, key string) (*Entry, error) {
	if s.down() {
		return nil, nil
	}
	ctx, cancel := s.ctx(parent)
	defer cancel()
	b, err := s.client.Get(ctx, s.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, s.fail("get", err)
	}
	e, err := unmarshalEntry(b)
	if err != nil {
		return nil, s.fail("decode", err)
	}
	return e, nil
}

func (s *redisStore) Set(parent context.Context, key string, e *Entry, ttl time.Duration) error {
	if ttl < time.Millisecond || s.down() {
		return nil
	}
	ctx, cancel := s.ctx(parent)
	defer cancel()
	if err := s.client.Set(ctx, s.prefix+key, e.marshal(), ttl).Err(); err != nil {
		return s.fail("set", err)
	}
	return nil
}

// Purge deletes the key and its variants, or every key under the prefix,
// with SCAN and UNLINK: never KEYS, which blocks the server.
func (s *redisStore) Purge(parent context.Context, key string, prefix bool) (int, error) {
	ctx, cancel := context.WithTimeout(parent, 30*time.Second)
	defer cancel()
	purged := 0
	if !prefix {
		n, err := s.client.Unlink(ctx, s.prefix+key).Result()
		if err != nil {
			return 0, err
		}
		purged += int(n)
	}
	pattern := globEscape(s.prefix + key)
	if !prefix {
		pattern += "\x00"
	}
	iter := s.client.Scan(ctx, 0, pattern+"*", 1000).Iterator()
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n, err := s.client.Unlink(ctx, batch...).Result()
		purged += int(n)
		batch = batch[:0]
		return err
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			if err := flush(); err != nil {
				return purged, err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return purged, err
	}
	return purged, flush()
}

// globEscape quotes the characters SCAN's MATCH reads as a pattern.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for _, c := range []byte(s) {
		if strings.IndexByte(`*?[]\`, c) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Stats of a Redis store: what it holds is the server's to say (INFO,
// DBSIZE); this instance counts the commands that failed.
func (s *redisStore) Stats() Stats { return Stats{StoreErrors: s.errs.Load()} }

func (s *redisStore) Close() error { return s.client.Close() }
