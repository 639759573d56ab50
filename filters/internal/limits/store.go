package limits

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
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
// after a decision that could not reach Redis it is marked down, and one
// background probe marks it up again when Redis answers (every master, for
// a cluster), so recovery needs no restart. Each transition is logged once
// and counted; decisions made meanwhile are counted per failure policy.
type Store struct {
	client  redis.UniversalClient
	where   string // the deployment, for log lines
	prefix  string
	timeout time.Duration
	logger  *slog.Logger
	batcher *batcher // rate-limit decisions pipelined when many wait at once

	down       atomic.Bool
	metrics    atomic.Pointer[storeMetrics]
	failOpen   atomic.Uint64 // decisions made without Redis under fail_open
	failClosed atomic.Uint64 // ... under fail_closed
	done       chan struct{}
	closeOnce  sync.Once
	probes     sync.WaitGroup
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
	c, err := bc.Keep(storeKey{string(id)}, func() (io.Closer, error) { return NewStore(rc, logger) })
	if err != nil {
		return nil, err
	}
	s := c.(*Store)
	s.metrics.Store(newStoreMetrics(bc))
	return s, nil
}

// storeKey is the stores.redis block, as JSON: one client per block.
type storeKey struct{ config string }

// NewStore connects lazily: a Redis that is down at start is a store that
// is down, handled by the failure policy, not a config error.
func NewStore(rc *stores.Redis, logger *slog.Logger) (*Store, error) {
	client, err := rc.NewClient(logger)
	if err != nil {
		return nil, err
	}
	s := &Store{
		client:  client,
		where:   rc.Where(),
		timeout: rc.Timeout(),
		prefix:  rc.KeyPrefix,
		logger:  logger,
		done:    make(chan struct{}),
	}
	s.metrics.Store(&storeMetrics{down: new(filter.Counter), up: new(filter.Counter), admitted: new(filter.Counter), refused: new(filter.Counter)})
	s.batcher = newBatcher(client, s.timeout)
	return s, nil
}

// Client is the store's Redis client.
func (s *Store) Client() redis.UniversalClient { return s.client }

// Prefix starts every key the store's users write.
func (s *Store) Prefix() string { return s.prefix }

// Up reports whether the last decision reached Redis.
func (s *Store) Up() bool { return !s.down.Load() }

// Failovers counts decisions made by a failure policy instead of Redis.
func (s *Store) Failovers() uint64 { return s.failOpen.Load() + s.failClosed.Load() }

// CountFailover records one decision made without Redis, under policy.
func (s *Store) CountFailover(policy FailurePolicy) {
	if policy == FailClosed {
		s.failClosed.Add(1)
		s.metrics.Load().refused.Inc()
	} else {
		s.failOpen.Add(1)
		s.metrics.Load().admitted.Inc()
	}
}

// Run runs script atomically and returns its integer results. Any failure
// to get an answer (timeout, refused, pool exhausted, a cluster or master
// that is failing over) marks the store down.
func (s *Store) Run(script *redis.Script, keys []string, args ...any) ([]int64, error) {
	if s.down.Load() {
		return nil, ErrStoreDown
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	res, err := script.Run(ctx, s.client, keys, args...).Int64Slice()
	if err != nil {
		s.failed(err)
		return nil, err
	}
	return res, nil
}

// RunBatched is Run for the hot decisions (rate limits): while several
// wait on the store at once, they share one pipeline (batch.go).
func (s *Store) RunBatched(script *redis.Script, keys []string, args ...any) ([]int64, error) {
	if s.down.Load() {
		return nil, ErrStoreDown
	}
	res, err := s.batcher.run(script, keys, args)
	if err != nil {
		s.failed(err)
		return nil, err
	}
	return res, nil
}

// Batched counts the decisions that shared a pipeline with others.
func (s *Store) Batched() uint64 { return s.batcher.batched.Load() }

// failed marks the store down unless err is Redis answering about the
// command itself (a script error), which says Redis is there.
func (s *Store) failed(err error) {
	if stores.Unreachable(err) {
		s.markDown(err)
	}
}

// Load puts scripts in Redis's script cache ahead of the first decision, so
// decisions are EVALSHA only (on every master, for a cluster). Failure is
// not an error: Run loads on demand after NOSCRIPT (a failover to a
// replica whose cache is empty, a SCRIPT FLUSH).
func (s *Store) Load(scripts ...*redis.Script) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	for _, sc := range scripts {
		if cc, ok := s.client.(*redis.ClusterClient); ok {
			_ = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return sc.Load(ctx, c).Err() })
			continue
		}
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
	s.metrics.Load().down.Inc()
	s.logger.Warn("redis store unreachable; limits follow their failure policy until it answers", "redis", s.where, "err", err)
	s.probes.Add(1)
	go s.probe()
}

// probe asks until Redis answers, then marks the store up. A cluster's
// slot map is reloaded first, so a replica promoted in place of a dead
// master is found, and every master must answer: a slot whose master is
// gone would fail its decisions again at once.
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
		err := s.ping(ctx)
		cancel()
		if err == nil {
			s.down.Store(false)
			s.metrics.Load().up.Inc()
			s.logger.Info("redis store reachable again; limits are shared again", "redis", s.where, "failovers", s.Failovers())
			return
		}
	}
}

func (s *Store) ping(ctx context.Context) error {
	cc, ok := s.client.(*redis.ClusterClient)
	if !ok {
		return s.client.Ping(ctx).Err()
	}
	cc.ReloadState(ctx)
	info, err := cc.ClusterInfo(ctx).Result()
	if err != nil {
		return err
	}
	if !strings.Contains(info, "cluster_state:ok") {
		return errors.New("cluster_state is not ok")
	}
	return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return c.Ping(ctx).Err() })
}

// The store's metrics: wasmgate_redis_transitions_total{to} and
// wasmgate_redis_failover_decisions_total{policy, outcome}.
var (
	transitionsMetric = filter.Metric{
		Name: "wasmgate.redis.transitions",
		Unit: "{transition}",
		Help: "Times the shared Redis store was found unreachable (to=down) and reachable again (to=up).",
	}
	failoverMetric = filter.Metric{
		Name: "wasmgate.redis.failover_decisions",
		Unit: "{request}",
		Help: "Limit decisions made without Redis, by failure policy: fail_open admits, fail_closed refuses.",
	}
)

// storeMetrics are the store's counters, bound to the meter of the latest
// build that opened it (the meter hands the same counter for the same
// series, so a reload keeps counting where it was).
type storeMetrics struct {
	down, up, admitted, refused *filter.Counter
}

func newStoreMetrics(bc *filter.BuildContext) *storeMetrics {
	return &storeMetrics{
		down:     bc.Counter(transitionsMetric, filter.Label{Key: "to", Value: "down"}),
		up:       bc.Counter(transitionsMetric, filter.Label{Key: "to", Value: "up"}),
		admitted: bc.Counter(failoverMetric, filter.Label{Key: "policy", Value: string(FailOpen)}, filter.Label{Key: "outcome", Value: "admitted"}),
		refused:  bc.Counter(failoverMetric, filter.Label{Key: "policy", Value: string(FailClosed)}, filter.Label{Key: "outcome", Value: "refused"}),
	}
}

// Close stops the probe and closes the connections.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.done)
		s.probes.Wait()
		s.batcher.close()
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
