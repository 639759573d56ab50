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
	file := filepath.Join(tb.TempDir(), "gw.yaml")
	if err := os.WriteFile(file, manyRoutesYAML(n, ""), 0o600); err != nil {
		tb.Fatal(err)
	}
	return file
}

// manyRoutesYAML is manyRoutes' config; edit, if not empty, is appended
// to the last route's headers filter's value, so that one route changes.
func manyRoutesYAML(n int, edit string) []byte {
	var sb strings.Builder
	sb.WriteString("listeners: [{ name: main, address: \"127.0.0.1:0\" }]\nadmin: { address: \"off\" }\nupstreams:\n")
	for u := 0; u < n/10; u++ {
		fmt.Fprintf(&sb, "  u%d: { targets: [{ url: \"http://127.0.0.1:%d\" }] }\n", u, 20000+u)
	}
	sb.WriteString("routes:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "  - name: r%d\n    match: { hosts: [svc%d.example.com], path: \"/api/v1/items%d/{id}\", methods: [GET, POST] }\n", i, i%50, i)
		value := "{id}"
		if i == n-1 {
			value += edit
		}
		fmt.Fprintf(&sb, "    filters: [{ headers: { request: { set: { X-Item: %q } } } }]\n    upstream: u%d\n", value, i%(n/10))
	}
	return []byte(sb.String())
}

// BenchmarkReload10kRoutes is one POST /reload of a 10,000-route config
// in which one route changed (every upstream kept, the file parsed and
// every route built again): the time and the bytes allocated per reload,
// and the live heap per route after it. Writing the file is timed too; it
// is about a millisecond.
func BenchmarkReload10kRoutes(b *testing.B) {
	file := manyRoutes(b, 10000)
	edits := [][]byte{manyRoutesYAML(10000, "-a"), manyRoutesYAML(10000, "-b")}
	g, err := Start(Source{File: file}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer g.Shutdown(b.Context())
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	i := 0
	for b.Loop() {
		if err := os.WriteFile(file, edits[i%2], 0o600); err != nil {
			b.Fatal(err)
		}
		i++
		if err := g.Reload(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// On a shared machine the wall time counts the waits for a core; the
	// process's CPU time (GC workers included) is the cost of the reload.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapAlloc)/10000, "heapB/route")
}
