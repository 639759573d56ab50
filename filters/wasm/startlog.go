package wasm

import (
	"context"
	"log/slog"
	"strings"
	"sync"
)

// A plugin that rejects its configuration (proxy_on_configure or
// proxy_on_vm_start returning false) usually says why in an error or
// critical log line: the load error quotes those lines, so `wasmgate
// validate` shows the plugin's own reason. The plugin's logger wraps its
// handler to collect them while an instance starts (the start-up context
// carries a startLog).

type startLogKey struct{}

// startLog collects the error and critical lines of one starting instance.
type startLog struct {
	mu    sync.Mutex
	lines []string
}

const maxStartLogLines = 5

func (l *startLog) add(msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) < maxStartLogLines {
		l.lines = append(l.lines, strings.TrimSpace(msg))
	}
}

// reason is ": line; line" or "" when the guest logged no error.
func (l *startLog) reason() string {
	if l == nil {
		return ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == 0 {
		return ""
	}
	return " (it logged: " + strings.Join(l.lines, "; ") + ")"
}

// startLogHandler passes records on, and copies those of level error and
// above logged under a start-up context into its startLog.
type startLogHandler struct{ slog.Handler }

func (h startLogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	if l >= slog.LevelError {
		if _, ok := ctx.Value(startLogKey{}).(*startLog); ok {
			return true
		}
	}
	return h.Handler.Enabled(ctx, l)
}

func (h startLogHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		if l, ok := ctx.Value(startLogKey{}).(*startLog); ok {
			l.add(r.Message)
		}
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h startLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return startLogHandler{h.Handler.WithAttrs(as)}
}

func (h startLogHandler) WithGroup(name string) slog.Handler {
	return startLogHandler{h.Handler.WithGroup(name)}
}
