package stores

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/redis/go-redis/v9"

	"github.com/wasmgate/wasmgate/core/acme"
	"github.com/wasmgate/wasmgate/core/config"
)

// tls.acme.store.type redis: certificates, keys, the ACME account and the
// locks that make N instances order a certificate once, in stores.redis.
func init() {
	acme.RegisterStorage("redis", func(cfg *config.Config, at string, logger *slog.Logger) (certmagic.Storage, error) {
		rc := RedisOf(cfg)
		if rc == nil {
			return nil, config.FieldErr(at+".type", "redis needs a stores.redis block, e.g. stores: {redis: {address: \"127.0.0.1:6379\"}}")
		}
		return certStorageFor(rc, logger)
	})
}

var (
	certClientsMu sync.Mutex
	certClients   = map[string]*CertStorage{}
)

// certStorageFor shares one storage (one client) per distinct stores.redis
// block for the life of the process: certmagic keeps using a storage for
// renewals after the config that named it is gone.
func certStorageFor(rc *Redis, logger *slog.Logger) (*CertStorage, error) {
	block := *rc
	block.TLS = nil
	key := fmt.Sprintf("%+v", block)
	if rc.TLS != nil {
		key += fmt.Sprintf(" tls:%+v", *rc.TLS)
	}
	certClientsMu.Lock()
	defer certClientsMu.Unlock()
	if s := certClients[key]; s != nil {
		return s, nil
	}
	s, err := NewCertStorage(rc, logger)
	if err != nil {
		return nil, err
	}
	certClients[key] = s
	return s, nil
}

// Certificate operations are rare and not on the request path: an order
// takes seconds, so they get their own timeouts rather than the limiters'
// 100ms ones, which a busy Redis could exceed and fail a renewal for.
const (
	certTimeout = 5 * time.Second
	// LockTTL is how long a lock outlives a holder that died; a live one
	// extends it every LockTTL/3.
	LockTTL = 30 * time.Second
)

// CertStorage implements certmagic.Storage (and its Locker) in Redis.
// Each certmagic key is a hash {v: value, m: modified unix nanos} at
// prefix+"acme:"+key; a lock is a string at prefix+"acme-lock:"+name.
type CertStorage struct {
	client redis.UniversalClient
	prefix string
	logger *slog.Logger
	ttl    time.Duration

	mu    sync.Mutex
	locks map[string]*heldLock
}

type heldLock struct {
	token string
	stop  chan struct{}
	done  chan struct{}
}

// NewCertStorage makes a storage on the server of rc, with its own client.
// It speaks to whatever rc declares (standalone, cluster or sentinel, TLS),
// through the same constructor as every other Redis user, with its own
// timeouts and a small pool.
func NewCertStorage(rc *Redis, logger *slog.Logger) (*CertStorage, error) {
	opts := *rc
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = config.Duration(certTimeout), config.Duration(certTimeout), config.Duration(certTimeout)
	opts.PoolTimeout = config.Duration(certTimeout)
	opts.PoolSize, opts.MinIdleConns = 4, 0
	c, err := opts.NewClient(logger)
	if err != nil {
		return nil, err
	}
	return &CertStorage{client: c, prefix: rc.KeyPrefix, logger: logger, ttl: LockTTL, locks: map[string]*heldLock{}}, nil
}

func (s *CertStorage) dataKey(key string) string  { return s.prefix + "acme:" + key }
func (s *CertStorage) lockKey(name string) string { return s.prefix + "acme-lock:" + name }

func ctxFor(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, certTimeout)
}

func (s *CertStorage) Store(ctx context.Context, key string, value []byte) error {
	ctx, cancel := ctxFor(ctx)
	defer cancel()
	return s.client.HSet(ctx, s.dataKey(key), "v", value, "m", time.Now().UnixNano()).Err()
}

func (s *CertStorage) Load(ctx context.Context, key string) ([]byte, error) {
	ctx, cancel := ctxFor(ctx)
	defer cancel()
	v, err := s.client.HGet(ctx, s.dataKey(key), "v").Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fs.ErrNotExist
	}
	return v, err
}

// Delete removes key and, as for a directory, every key under it.
func (s *CertStorage) Delete(ctx context.Context, key string) error {
	ctx, cancel := ctxFor(ctx)
	defer cancel()
	keys, err := s.scan(ctx, key+"/")
	if err != nil {
		return err
	}
	keys = append(keys, s.dataKey(key))
	// One DEL per key: in a cluster the keys are in different slots, and a
	// DEL of several would be refused (CROSSSLOT).
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Del(ctx, k)
		}
		return nil
	})
	return err
}

func (s *CertStorage) Exists(ctx context.Context, key string) bool {
	_, err := s.Stat(ctx, key)
	return err == nil
}

// List returns the keys under path: all of them when recursive, else the
// direct children (files and "directories").
func (s *CertStorage) List(ctx context.Context, path string, recursive bool) ([]string, error) {
	ctx, cancel := ctxFor(ctx)
	defer cancel()
	dir := strings.TrimSuffix(path, "/") + "/"
	if path == "" {
		dir = ""
	}
	keys, err := s.scan(ctx, dir)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, k := range keys {
		rel := strings.TrimPrefix(k, s.dataKey(dir))
		if !recursive {
			rel, _, _ = strings.Cut(rel, "/")
		}
		name := dir + rel
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return nil, fs.ErrNotExist
	}
	sort.Strings(out)
	return out, nil
}

func (s *CertStorage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	ctx, cancel := ctxFor(ctx)
	defer cancel()
	vals, err := s.client.HMGet(ctx, s.dataKey(key), "v", "m").Result()
	if err != nil {
		return certmagic.KeyInfo{}, err
	}
	if v, ok := vals[0].(string); ok {
		var mod int64
		if m, ok := vals[1].(string); ok {
			fmt.Sscan(m, &mod)
		}
		return certmagic.KeyInfo{Key: key, Modified: time.Unix(0, mod), Size: int64(len(v)), IsTerminal: true}, nil
	}
	under, err := s.scan(ctx, key+"/")
	if err != nil {
		return certmagic.KeyInfo{}, err
	}
	if len(under) == 0 {
		return certmagic.KeyInfo{}, fs.ErrNotExist
	}
	return certmagic.KeyInfo{Key: key, IsTerminal: false}, nil
}

// scan finds the data keys starting with prefix (glob characters in it
// escaped).
func (s *CertStorage) scan(ctx context.Context, prefix string) ([]string, error) {
	pattern := globEscape(s.dataKey(prefix)) + "*"
	var mu sync.Mutex
	var out []string
	scan := func(ctx context.Context, c redis.Cmdable) error {
		iter := c.Scan(ctx, 0, pattern, 200).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			out = append(out, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	}
	// A cluster spreads the keys over its masters: each is scanned.
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return scan(ctx, c) })
		return out, err
	}
	return out, scan(ctx, s.client)
}

func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Lock and unlock compare the token, so an instance whose lock expired
// (it stalled past the TTL) can neither extend nor delete the lock another
// instance took since.
var (
	extendScript = redis.NewScript(`if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end`)
	unlockScript = redis.NewScript(`if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`)
)

// Lock blocks until this instance holds name or ctx ends. The lock expires
// after the TTL unless extended; while held, it is extended every TTL/3.
func (s *CertStorage) Lock(ctx context.Context, name string) error {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	token := hex.EncodeToString(b)
	wait := 100 * time.Millisecond
	for {
		cctx, cancel := ctxFor(ctx)
		ok, err := s.client.SetNX(cctx, s.lockKey(name), token, s.ttl).Result()
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				// The caller's context ended during the round trip, which
				// then fails as an I/O timeout: the context's error is the
				// one to report.
				return ctx.Err()
			}
			return fmt.Errorf("acme lock %s: %w", name, err)
		}
		if ok {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, time.Second)
	}
	h := &heldLock{token: token, stop: make(chan struct{}), done: make(chan struct{})}
	s.mu.Lock()
	s.locks[name] = h
	s.mu.Unlock()
	go s.keep(name, h)
	return nil
}

// keep extends a held lock until Unlock.
func (s *CertStorage) keep(name string, h *heldLock) {
	defer close(h.done)
	t := time.NewTicker(s.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
			ctx, cancel := ctxFor(context.Background())
			n, err := extendScript.Run(ctx, s.client, []string{s.lockKey(name)}, h.token, s.ttl.Milliseconds()).Int()
			cancel()
			switch {
			case err != nil:
				s.logger.Warn("acme: cannot extend a storage lock", "lock", name, "err", err)
			case n == 0:
				s.logger.Warn("acme: a storage lock expired while held", "lock", name)
				return
			}
		}
	}
}

// Unlock releases name if this instance still holds it.
func (s *CertStorage) Unlock(ctx context.Context, name string) error {
	s.mu.Lock()
	h := s.locks[name]
	delete(s.locks, name)
	s.mu.Unlock()
	if h == nil {
		return fmt.Errorf("acme lock %s: not held", name)
	}
	close(h.stop)
	<-h.done
	ctx, cancel := ctxFor(ctx)
	defer cancel()
	return unlockScript.Run(ctx, s.client, []string{s.lockKey(name)}, h.token).Err()
}

var _ certmagic.Storage = (*CertStorage)(nil)
