package stores

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// go-redis has one process-wide logger, writing to stderr by default: while
// a Redis store is down it prints a dial failure per attempt, interleaved
// with the gateway's structured log. The stores already say once, as a
// warning, that Redis is unreachable, and once, as info, that it is back;
// the library's detail belongs under debug, in the gateway's log.

// NewClient returns a client for rc, connecting lazily, and routes
// go-redis's logging to logger (once per process). Every filter that uses
// stores.redis (rate limits and quotas, Wasm shared data) makes its client
// here, with one set of options. Commands are never retried (a retried
// script or set could apply twice), a redial is tried once, and every
// command is bounded by its context as well as by Timeout.
func (rc *Redis) NewClient(logger *slog.Logger) *redis.Client {
	Install(logger)
	return redis.NewClient(&redis.Options{
		Addr:                  rc.Address,
		Username:              rc.Username,
		Password:              rc.Password,
		DB:                    rc.DB,
		DialTimeout:           rc.DialTimeout.D(),
		ReadTimeout:           rc.ReadTimeout.D(),
		WriteTimeout:          rc.WriteTimeout.D(),
		PoolSize:              rc.PoolSize,
		PoolTimeout:           rc.Timeout(),
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		DialerRetries:         1,
		DisableIdentity:       true,
	})
}

// Timeout bounds one command: the read and write timeouts together, or
// 200ms when neither is set.
func (rc *Redis) Timeout() time.Duration {
	if t := rc.ReadTimeout.D() + rc.WriteTimeout.D(); t > 0 {
		return t
	}
	return 200 * time.Millisecond
}

var once sync.Once

// Install routes go-redis's logging to logger, once per process (the
// library's logger is global; the first store's logger is the process's).
func Install(logger *slog.Logger) {
	if logger == nil {
		return
	}
	once.Do(func() { redis.SetLogger(Adapter{logger}) })
}

// Adapter is go-redis's Logging interface over a slog.Logger.
type Adapter struct{ L *slog.Logger }

// Printf logs one go-redis line at debug level, formatted only if debug is on.
func (a Adapter) Printf(ctx context.Context, format string, v ...any) {
	if !a.L.Enabled(ctx, slog.LevelDebug) {
		return
	}
	a.L.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}
