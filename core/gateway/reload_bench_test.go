package gateway

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// manyRoutes writes a config of n routes over n/10 upstreams, each route
// with a templated path and a headers filter: the shape of a large API.
func manyRoutes(tb testing.TB, n int) string {
	tb.Helper()
	var sb strings.Builder
	sb.WriteString("listeners: [{ name: main, address: \"127.0.0.1:0\" }]\nadmin: { address: \"off\" }\nupstreams:\n")
	for u := 0; u < n/10; u++ {
		fmt.Fprintf(&sb, "  u%d: { targets: [{ url: \"http://127.0.0.1:%d\" }] }\n", u, 20000+u)
	}
	sb.WriteString("routes:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "  - name: r%d\n    match: { hosts: [svc%d.example.com], path: \"/api/v1/items%d/{id}\", methods: [GET, POST] }\n", i, i%50, i)
		fmt.Fprintf(&sb, "    filters: [{ headers: { request: { set: { X-Item: \"{id}\" } } } }]\n    upstream: u%d\n", i%(n/10))
	}
	file := filepath.Join(tb.TempDir(), "gw.yaml")
	if err := os.WriteFile(file, []byte(sb.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	return file
}

// BenchmarkReload10kRoutes is one POST /reload of a 10,000-route config
// that did not change (every upstream kept, every route rebuilt): the time
// and the bytes allocated per reload, and the live heap per route after it.
func BenchmarkReload10kRoutes(b *testing.B) {
	file := manyRoutes(b, 10000)
	g, err := Start(Source{File: file}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer g.Shutdown(b.Context())
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := g.Reload(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapAlloc)/10000, "heapB/route")
}
