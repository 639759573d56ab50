package limits

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/stores"
)

// ErrStoreDown is returned while the store is known to be unreachable:
// decisions take the filter's failure policy at once instead of each
// waiting out a timeout.
var ErrStoreDown = errors.New("redis store is unreachable")

// probeInterval is how often a down store is pinged to notice it is back.
const probeInterval = 200 * time.Millisecond

// Store is the Redis client every limit filter shares, with its health:
// after a failed decision it is marked down, and a background probe marks
// it up again when Redis answers, so recovery needs no restart.
type Store struct {
	client  *redis.Client
	prefix  string
	timeout time.Duration
	logger  *slog.Logger

	down      atomic.Bool
	failovers atomic.Uint64 // decisions made without Redis
	done      chan struct{}
	closeOnce sync.Once
	probes    sync.WaitGroup
}

// OpenStore returns the shared store for the config's stores.redis block:
// the same block, in this snapshot or the one before, means the same client.
func OpenStore(bc *filter.BuildContext) (*Store, error) {
	rc := stores.RedisOf(bc.Config)
	if rc == nil {
		return nil, config.FieldErr("store", `store: redis needs a Redis server in the config: stores: {redis: {address: "127.0.0.1:6379"}}`)
	}
	logger := bc.Logger
	if logger == nil {
		logger = slog.Default()
	}
	id, _ := json.Marshal(rc)
	c, err := bc.Keep(storeKey{string(id)}, func() (io.Closer, error) { return NewStore(rc, logger), nil })
	if err != nil {
		return nil, err
	}
	return c.(*Store), nil
}

// storeKey is the stores.redis block, as JSON: one client per block.
type storeKey struct{ config string }

// NewStore connects lazily: a Redis that is down at start is a store that
// is down, handled by the failure policy, not a config error.
func NewStore(rc *stores.Redis, logger *slog.Logger) *Store {
	return &Store{
		client:  rc.NewClient(logger),
		timeout: rc.Timeout(),
		prefix:  rc.KeyPrefix,
		logger:  logger,
		done:    make(chan struct{}),
	}
}

// Prefix starts every key the store's users write.
func (s *Store) Prefix() string { return s.prefix }

// Up reports whether the last decision reached Redis.
func (s *Store) Up() bool { return !s.down.Load() }

// Failovers counts decisions made by a failure policy instead of Redis.
func (s *Store) Failovers() uint64 { return s.failovers.Load() }

// CountFailover records one decision made without Redis.
func (s *Store) CountFailover() { s.failovers.Add(1) }

// Run runs script atomically and returns its integer results. Any failure
// to get an answer (timeout, refused, pool exhausted) marks the store down.
func (s *Store) Run(script *redis.Script, keys []string, args ...any) ([]int64, error) {
	if s.down.Load() {
		return nil, ErrStoreDown
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	res, err := script.Run(ctx, s.client, keys, args...).Int64Slice()
	if err != nil {
		var rerr redis.Error
		if !errors.As(err, &rerr) {
			s.markDown(err)
		}
		return nil, err
	}
	return res, nil
}

// Load puts scripts in Redis's script cache ahead of the first decision, so
// decisions are EVALSHA only. Failure is not an error: Run loads on demand.
func (s *Store) Load(scripts ...*redis.Script) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	for _, sc := range scripts {
		if err := sc.Load(ctx, s.client).Err(); err != nil {
			return
		}
	}
}

func (s *Store) markDown(err error) {
	if !s.down.CompareAndSwap(false, true) {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	s.logger.Warn("redis store unreachable; limits follow their failure policy until it answers", "addr", s.client.Options().Addr, "err", err)
	s.probes.Add(1)
	go s.probe()
}

// probe pings until Redis answers, then marks the store up.
func (s *Store) probe() {
	defer s.probes.Done()
	t := time.NewTicker(probeInterval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		err := s.client.Ping(ctx).Err()
		cancel()
		if err == nil {
			s.down.Store(false)
			s.logger.Info("redis store reachable again; limits are shared again", "addr", s.client.Options().Addr, "failovers", s.failovers.Load())
			return
		}
	}
}

// Close stops the probe and closes the connections.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.done)
		s.probes.Wait()
		err = s.client.Close()
	})
	return err
}

// FailurePolicy is what a limit does when its store cannot decide.
type FailurePolicy string

const (
	// FailOpen admits the request (through a local limiter where the
	// filter has one), logs the outage once and counts each such decision.
	FailOpen FailurePolicy = "fail_open"
	// FailClosed refuses the request with 503 and Retry-After.
	FailClosed FailurePolicy = "fail_closed"
)

// Check validates a policy value ("" means fail_open).
func (p FailurePolicy) Check(field string) error {
	switch p {
	case "", FailOpen, FailClosed:
		return nil
	}
	return config.FieldErr(field, "%q is not valid; valid values: fail_open, fail_closed", string(p))
}

// StoreUnavailable is the fail_closed refusal.
func StoreUnavailable(policy string) *filter.Response {
	return Reject(503, fmt.Sprintf("limit %q cannot be checked right now", policy), policy, time.Second)
}

var _ io.Closer = (*Store)(nil)
