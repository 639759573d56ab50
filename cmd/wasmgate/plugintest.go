package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/wasmgate/wasmgate/filters/wasm"
)

// What `wasmgate plugin test` adds around wasm.Plugin.Exchange: the guest's
// log level and its start-up lines, and canned answers to its callouts.

// guestLevels maps Proxy-Wasm log levels to the slog levels the host
// compares with when the guest asks proxy_get_log_level.
var guestLevels = map[string]slog.Level{
	"trace": slog.LevelDebug - 4, "debug": slog.LevelDebug, "info": slog.LevelInfo,
	"warn": slog.LevelWarn, "error": slog.LevelError, "critical": slog.LevelError + 4,
}

func guestLevelName(l slog.Level) string {
	switch {
	case l < slog.LevelDebug:
		return "trace"
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	case l < slog.LevelError+4:
		return "error"
	}
	return "critical"
}

// testLogHandler keeps what is logged outside an exchange: the guest's
// lines from proxy_on_vm_start and proxy_on_configure, and the host's own
// (compilation, load failures). Lines of the exchange carry a route and
// arrive through Outcome.Logs instead.
type testLogHandler struct {
	level slog.Level
	mu    sync.Mutex
	lines []wasm.LogEntry
}

func (h *testLogHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *testLogHandler) Handle(_ context.Context, r slog.Record) error {
	msg := r.Message
	inExchange := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "route" {
			inExchange = true
			return false
		}
		msg += " " + a.String()
		return true
	})
	if !inExchange {
		h.mu.Lock()
		h.lines = append(h.lines, wasm.LogEntry{Level: guestLevelName(r.Level), Message: msg})
		h.mu.Unlock()
	}
	return nil
}

func (h *testLogHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *testLogHandler) WithGroup(string) slog.Handler      { return h }

func (h *testLogHandler) take() []wasm.LogEntry {
	h.mu.Lock()
	defer h.mu.Unlock()
	l := h.lines
	h.lines = nil
	return l
}

func printStartLogs(w io.Writer, lines []wasm.LogEntry) {
	fmt.Fprintf(w, "start (proxy_on_vm_start, proxy_on_configure): %d log lines\n", len(lines))
	for _, l := range lines {
		fmt.Fprintf(w, "  [%s] %s\n", l.Level, l.Message)
	}
}

type cannedAnswer struct {
	status int
	body   []byte
}

// parseCallout reads NAME=STATUS[:BODY]; BODY is text or @file.
func parseCallout(s string) (string, cannedAnswer, error) {
	name, rest, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return "", cannedAnswer{}, errors.New("want 'UPSTREAM=STATUS[:BODY]', e.g. auth=200:ok")
	}
	code, body, _ := strings.Cut(rest, ":")
	status, err := strconv.Atoi(code)
	if err != nil || status < 100 || status > 599 {
		return "", cannedAnswer{}, fmt.Errorf("status %q: want an HTTP status, 100 to 599", code)
	}
	b, err := readArg(body)
	if err != nil {
		return "", cannedAnswer{}, err
	}
	return name, cannedAnswer{status: status, body: b}, nil
}

// cannedCallouts answers the plugin's proxy_http_call with fixed responses
// and remembers what it was asked.
type cannedCallouts struct {
	mu    sync.Mutex
	calls []string
}

type cannedCaller struct {
	c        *cannedCallouts
	upstream string
	answer   cannedAnswer
}

func (c *cannedCallouts) caller(upstream string, a cannedAnswer) wasm.Caller {
	return cannedCaller{c: c, upstream: upstream, answer: a}
}

func (k cannedCaller) Call(_ context.Context, req *http.Request) (*http.Response, error) {
	k.c.mu.Lock()
	k.c.calls = append(k.c.calls, fmt.Sprintf("%s: %s %s -> %d", k.upstream, req.Method, req.URL.RequestURI(), k.answer.status))
	k.c.mu.Unlock()
	return &http.Response{
		StatusCode: k.answer.status, Status: strconv.Itoa(k.answer.status) + " " + http.StatusText(k.answer.status),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Length": {strconv.Itoa(len(k.answer.body))}},
		Body:          io.NopCloser(bytes.NewReader(k.answer.body)),
		ContentLength: int64(len(k.answer.body)),
		Request:       req,
	}, nil
}

func (c *cannedCallouts) print(w io.Writer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.calls) == 0 {
		return
	}
	fmt.Fprintf(w, "callouts: %d\n", len(c.calls))
	for _, l := range c.calls {
		fmt.Fprintf(w, "  %s\n", l)
	}
}
