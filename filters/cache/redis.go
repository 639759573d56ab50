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
	client  redis.UniversalClient
	refresh *stores.SlotRefresh
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

func newRedisStore(rc *stores.Redis, client redis.UniversalClient, route string, logger *slog.Logger) *redisStore {
	return &redisStore{client: client, refresh: stores.NewSlotRefresh(client), prefix: rc.KeyPrefix + "cache:" + route + ":", timeout: rc.Timeout(), logger: logger}
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
	s.refresh.After(err)
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
// with SCAN and UNLINK: never KEYS, which blocks the server. A cluster is
// scanned master by master (SCAN sees one node's keys), and each key is
// unlinked by itself, in a pipeline: entries' keys hash to different slots,
// and one UNLINK of keys in several slots is refused (CROSSSLOT).
func (s *redisStore) Purge(parent context.Context, key string, prefix bool) (int, error) {
	ctx, cancel := context.WithTimeout(parent, 30*time.Second)
	defer cancel()
	pattern := globEscape(s.prefix + key)
	if !prefix {
		pattern += "\x00"
	}
	var purged atomic.Int64
	scan := func(ctx context.Context, node redis.UniversalClient) error {
		iter := node.Scan(ctx, 0, pattern+"*", 1000).Iterator()
		var batch []string
		for iter.Next(ctx) {
			batch = append(batch, iter.Val())
			if len(batch) == 500 {
				if err := s.unlink(ctx, node, batch, &purged); err != nil {
					return err
				}
				batch = batch[:0]
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
		return s.unlink(ctx, node, batch, &purged)
	}
	if !prefix {
		if err := s.unlink(ctx, s.client, []string{s.prefix + key}, &purged); err != nil {
			return 0, err
		}
	}
	var err error
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return scan(ctx, c) })
	} else {
		err = scan(ctx, s.client)
	}
	return int(purged.Load()), err
}

// unlink deletes keys, one UNLINK each in one pipeline.
func (s *redisStore) unlink(ctx context.Context, node redis.UniversalClient, keys []string, purged *atomic.Int64) error {
	if len(keys) == 0 {
		return nil
	}
	pipe := node.Pipeline()
	cmds := make([]*redis.IntCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.Unlink(ctx, k)
	}
	_, err := pipe.Exec(ctx)
	for _, c := range cmds {
		purged.Add(c.Val())
	}
	return err
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
