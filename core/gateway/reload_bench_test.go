package gateway

import (
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/wasmgate/wasmgate/internal/bigconfig"
)

// manyRoutes writes a config of n routes over n/10 upstreams, each route
// with a templated path and a headers filter: the shape of a large API.
func manyRoutes(tb testing.TB, n int) string {
	tb.Helper()
	file := filepath.Join(tb.TempDir(), "gw.yaml")
	if err := os.WriteFile(file, bigconfig.Routes(n, ""), 0o600); err != nil {
		tb.Fatal(err)
	}
	return file
}

// BenchmarkReload10kRoutes is one POST /reload of a 10,000-route config
// in which one route changed (every upstream kept, the file parsed and
// every route built again): the time and the bytes allocated per reload,
// and the live heap per route after it. Writing the file is timed too; it
// is about a millisecond.
func BenchmarkReload10kRoutes(b *testing.B) {
	file := manyRoutes(b, 10000)
	edits := [][]byte{bigconfig.Routes(10000, "-a"), bigconfig.Routes(10000, "-b")}
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
