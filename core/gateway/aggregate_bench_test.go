package gateway

import (
	"io"
	"net/http"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BenchmarkAggregate measures an aggregated route fanning out to three
// backends (fanOutConfig) on loopback.
//
// Latency20ms: each backend answers after 20ms; p50/p99 are the client's
// whole-request latency, which concurrency keeps near 20ms, not 60ms.
//
// CPU: instant backends, 8 clients in parallel; cpu-us/op is the process's
// CPU (user+system, all goroutines: client, gateway and backends) per
// aggregated request, and direct-cpu-us/op the same for the three backend
// requests made straight from the client, so the gateway's share is about
// the difference.
func BenchmarkAggregate(b *testing.B) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	fetch := func(b *testing.B, url string) {
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}

	b.Run("Latency20ms", func(b *testing.B) {
		const delay = 20 * time.Millisecond
		x, y, z := jsonBackend(b, delay, `{"a":1}`), jsonBackend(b, delay, `{"b":2}`), jsonBackend(b, delay, `{"c":3}`)
		gw := startYAML(b, fanOutConfig, map[string]*backend{"a": x, "b": y, "c": z})
		fetch(b, gw+"/fan")
		var mu sync.Mutex
		var lat []time.Duration
		b.SetParallelism(2) // 4 clients on 2 cores: latency, not throughput
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				start := time.Now()
				fetch(b, gw+"/fan")
				d := time.Since(start)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		})
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	})

	b.Run("CPU", func(b *testing.B) {
		x, y, z := jsonBackend(b, 0, `{"a":1}`), jsonBackend(b, 0, `{"b":2}`), jsonBackend(b, 0, `{"c":3}`)
		gw := startYAML(b, fanOutConfig, map[string]*backend{"a": x, "b": y, "c": z})
		fetch(b, gw+"/fan")
		b.ReportAllocs()
		before := cpuTime()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				fetch(b, gw+"/fan")
			}
		})
		b.StopTimer()
		agg := cpuTime() - before
		n := b.N
		before = cpuTime()
		var wg sync.WaitGroup
		per := (n + 7) / 8
		for range 8 {
			wg.Go(func() {
				for range per {
					fetch(b, x.URL+"/a")
					fetch(b, y.URL+"/b")
					fetch(b, z.URL+"/c")
				}
			})
		}
		wg.Wait()
		direct := cpuTime() - before
		b.ReportMetric(float64(agg.Microseconds())/float64(n), "cpu-us/op")
		b.ReportMetric(float64(direct.Microseconds())/float64(8*per), "direct-cpu-us/op")
	})
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
