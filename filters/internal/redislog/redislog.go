// Package redislog sends go-redis's own log lines to the gateway's log at
// debug level. go-redis has one process-wide logger, writing to stderr by
// default: while a Redis store is down it prints a dial failure per
// attempt, interleaved with the gateway's structured log. The stores
// already say once, as a warning, that Redis is unreachable, and once, as
// info, that it is back; the library's detail belongs under debug.
package redislog

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"
)

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
