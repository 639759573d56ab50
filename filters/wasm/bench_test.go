package wasm

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/wasmgate/wasmgate/core/filter"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/wasmrt"
)

// benchModule is the minimal WAT guest, or the module named by
// WASMGATE_BENCH_WASM (e.g. a Go-SDK filter) when set.
func benchModule(b *testing.B) []byte {
	path := os.Getenv("WASMGATE_BENCH_WASM")
	if path == "" {
		path = "testdata/minimal.wasm"
	}
	code, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	return code
}

func benchOptions(b *testing.B) Options {
	return Options{Name: "bench", Instances: 1, CacheDir: filepath.Join(b.TempDir(), "cache"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// Per-exchange overhead of a filter adding one request header: the whole
// stream lifecycle (create, request headers, done/log/delete where
// exported): deadlines by instrumentation (the default), by wazero's
// WithCloseOnContextDone (the fallback), and off.
func BenchmarkExchange(b *testing.B) {
	code := benchModule(b)
	for _, c := range []struct {
		name       string
		off, noIns bool
	}{{"deadlines_instrumented", false, false}, {"deadlines_wazero", false, true}, {"deadlines_off", true, false}} {
		b.Run(c.name, func(b *testing.B) {
			opts := benchOptions(b)
			opts.NoCloseOnContextDone = c.off
			wasmrt.Instrument = !c.noIns
			defer func() { wasmrt.Instrument = true }()
			p, err := LoadBytes(context.Background(), code, opts)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			benchHeaderExchanges(b, p)
		})
	}
}

// The same loop without a plugin, so the overhead can be read as a difference.
func BenchmarkExchangeBaseline(b *testing.B) {
	r, _ := http.NewRequest("GET", "http://x/", nil)
	x := &filter.Exchange{Request: r}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		delete(r.Header, "X-Wasm")
		r.Header["X-Wasm"] = []string{"1"}
		x.Set(r, x)
	}
}

// Compilation with an empty cache directory, then from a warm one (a new
// process would see the warm case: the in-memory engine is per cache).
func BenchmarkCompile(b *testing.B) {
	code := benchModule(b)
	b.Run("cold", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			dir := b.TempDir()
			b.StartTimer()
			compileOnce(b, code, dir)
		}
	})
	b.Run("warm", func(b *testing.B) {
		dir := b.TempDir()
		compileOnce(b, code, dir)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			compileOnce(b, code, dir)
		}
	})
}

// compileOnce compiles with a fresh cache object over dir, as a restarted
// process would.
func compileOnce(b *testing.B, code []byte, dir string) {
	ctx := context.Background()
	cache, err := newDirCache(dir)
	if err != nil {
		b.Fatal(err)
	}
	rt := newBenchRuntime(ctx, cache)
	if _, err := rt.CompileModule(ctx, code); err != nil {
		b.Fatal(err)
	}
	_ = rt.Close(ctx)
	_ = cache.Close(ctx)
}

// Instantiation: a new instance, initialized and configured.
func BenchmarkInstantiate(b *testing.B) {
	p, err := LoadBytes(context.Background(), benchModule(b), benchOptions(b))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		in, err := p.newInstance(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		in.Close()
	}
}

// benchHeaderExchanges runs b.N whole exchanges (request, response, done)
// through p, a plugin that adds X-Wasm, and checks it did.
func benchHeaderExchanges(b *testing.B, p *Plugin) {
	f := p.NewFilter()
	r, _ := http.NewRequest("GET", "http://x/", nil)
	x := &filter.Exchange{Request: r}
	resp := &filter.Response{Status: 200, Header: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		delete(r.Header, "X-Wasm")
		if f.OnRequest(x) != nil {
			b.Fatal("local response")
		}
		x.Response = resp
		f.OnResponse(x)
		f.OnDone(x)
	}
	b.StopTimer()
	if r.Header.Get("X-Wasm") == "" {
		b.Fatal("no header added")
	}
}
