package wasm

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/internal/testsync"
)

// logBuffer collects what runs beside the test writes (testsync.Buffer).
type logBuffer = testsync.Buffer

// cacheDir is the compilation cache the tests share: each module is
// compiled once per run (the Go-built ones take seconds under -race), as a
// gateway's reloads reuse its cache.
var cacheDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wasmgate-wasm-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cacheDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func testOptions(t testing.TB, name string) (Options, *logBuffer) {
	lb := &logBuffer{}
	return Options{
		Name:     name,
		CacheDir: cacheDir,
		Logger:   slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug - 4})),
		Timeout:  200 * time.Millisecond,
		// One instance, created at load: tests that count instances,
		// discards and re-creation read them against this; tests of the
		// pool set their own bound.
		Instances: 1,
	}, lb
}

func load(t testing.TB, module string, opts Options) *Plugin {
	t.Helper()
	p, err := Load(context.Background(), filepath.Join("testdata", module+".wasm"), opts)
	if err != nil {
		t.Fatalf("loading %s: %v", module, err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func request(method, url string, hdr ...string) *http.Request {
	r := httptest.NewRequest(method, url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	return r
}

func exchange(t testing.TB, p *Plugin, r *http.Request) *Outcome {
	t.Helper()
	out, err := p.Exchange(context.Background(), Run{Request: r, Route: "users"})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func logMessages(out *Outcome) []string {
	var msgs []string
	for _, l := range out.Logs {
		msgs = append(msgs, l.Message)
	}
	return msgs
}

func wantStatus(t testing.TB, out *Outcome, status int) {
	t.Helper()
	got := 0
	switch {
	case out.Local != nil:
		got = out.Local.Status
	case out.Response != nil:
		got = out.Response.Status
	}
	if got != status {
		t.Fatalf("status %d, want %d (failed: %v; logs: %q)", got, status, out.Failed, logMessages(out))
	}
}

func isPolicy503(r *filter.Response, plugin string) bool {
	return r != nil && r.Status == 503 && strings.Contains(string(r.Body), `"plugin `+plugin+` failed"`)
}
