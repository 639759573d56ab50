package ratelimit

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/redistest"
	"github.com/wasmgate/wasmgate/filters/internal/stores"
	"github.com/wasmgate/wasmgate/internal/redistopo"
)

func storeConfig(rc *stores.Redis) *config.Config {
	cfg := &config.Config{}
	rc.DialTimeout, rc.ReadTimeout, rc.WriteTimeout = config.Duration(5*time.Second), config.Duration(5*time.Second), config.Duration(5*time.Second)
	rc.PoolSize = 16
	config.SetSection(cfg, "stores", &stores.Config{Redis: rc})
	return cfg
}

// Many decisions at once on one client share pipelines, and stay exact:
// 4000 concurrent requests on two keys of 1000 a day admit exactly 2000
// (plus one per key for each 86.4s the test took: the refill), in a
// standalone Redis and in a cluster (where a pipeline is split by node).
func TestPipelinedDecisionsExact(t *testing.T) {
	for _, topo := range []string{"standalone", "cluster"} {
		t.Run(topo, func(t *testing.T) {
			rc := &stores.Redis{Address: redistest.Addr(t), KeyPrefix: redistest.Prefix(t)}
			if topo == "cluster" {
				rc = &stores.Redis{Mode: stores.ModeCluster, Addresses: redistopo.StartCluster(t).Addrs(), KeyPrefix: "wgtest:"}
			}
			f := build(t, `{key: "header:X-Key", rate: 1000/d, store: redis, on_store_failure: fail_closed}`, storeConfig(rc))
			start := time.Now()
			var admitted, refused atomic.Int64
			var wg sync.WaitGroup
			for g := range 200 {
				wg.Go(func() {
					for i := range 20 {
						x := exchange("192.0.2.1")
						x.Request.Header.Set("X-Key", fmt.Sprint((g*20+i)%2)) // two keys: two slots
						switch roundTrip(f, x).Status {
						case 200:
							admitted.Add(1)
						case 429:
							refused.Add(1)
						}
					}
				})
			}
			wg.Wait()
			refill := 2 * int64(time.Since(start)/(86400*time.Second/1000))
			if a := admitted.Load(); a < 2000 || a > 2000+refill || a+refused.Load() != 4000 {
				t.Errorf("admitted %d, refused %d of 4000 on two keys of 1000/d: want 2000 admitted (+%d refilled), the rest refused", a, refused.Load(), refill)
			}
			if f.store.Failovers() != 0 {
				t.Errorf("%d decisions were made without Redis", f.store.Failovers())
			}
			if f.store.Batched() == 0 {
				t.Error("200 concurrent decisions never shared a pipeline")
			}
			t.Logf("%d of 4000 decisions pipelined", f.store.Batched())
		})
	}
}

// BenchmarkRedisTopology measures a shared decision against a standalone
// Redis and a 3-master cluster: one at a time, 64 at once each on its own
// round trip (Run), and 64 at once pipelined (RunBatched, the filter's
// path). Reported: decisions/s, decisions per CPU-second of this process
// (the gateway's side: decisions/s per core), and the p99 latency a
// decision adds. docs/scale-out.md has a run's figures.
func BenchmarkRedisTopology(b *testing.B) {
	for _, topo := range []string{"standalone", "cluster"} {
		var rc *stores.Redis
		b.Run(topo, func(b *testing.B) {
			if topo == "cluster" {
				rc = &stores.Redis{Mode: stores.ModeCluster, Addresses: redistopo.StartCluster(b).Addrs(), KeyPrefix: "wgbench:"}
			} else {
				rc = &stores.Redis{Address: redistest.Addr(b), KeyPrefix: redistest.Prefix(b)}
			}
			f := build(b, `{key: "header:X-Key", rate: 1000000/s, burst: 1000000000, store: redis}`, storeConfig(rc))
			for _, mode := range []string{"serial", "parallel64", "parallel64-pipelined"} {
				b.Run(mode, func(b *testing.B) { benchDecisions(b, f, mode) })
			}
		})
	}
}

func benchDecisions(b *testing.B, f *Filter, mode string) {
	var keys atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	one := func(x *filter.Exchange) time.Duration {
		t0 := time.Now()
		var err error
		if mode == "parallel64-pipelined" || mode == "serial" {
			_, err = f.remote(f.def, f.key.Render(x))
		} else {
			_, err = f.store.Run(gcraScript, []string{f.def.keyPrefix + f.key.Render(x) + "}"}, f.def.intervalUS, f.def.toleranceUS)
		}
		if err != nil {
			b.Error(err)
		}
		return time.Since(t0)
	}
	cpu0 := cpuTime()
	start := time.Now()
	if mode == "serial" {
		x := exchange("192.0.2.1")
		x.Request.Header.Set("X-Key", "serial")
		for b.Loop() {
			lat = append(lat, one(x))
		}
	} else {
		b.SetParallelism(32) // 64 goroutines on 2 cores
		b.RunParallel(func(pb *testing.PB) {
			x := exchange("192.0.2.1")
			x.Request.Header.Set("X-Key", fmt.Sprint(keys.Add(1)))
			var mine []time.Duration
			for pb.Next() {
				mine = append(mine, one(x))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wall, cpu := time.Since(start), cpuTime()-cpu0
	b.ReportMetric(float64(b.N)/wall.Seconds(), "decisions/s")
	b.ReportMetric(float64(b.N)/cpu.Seconds(), "decisions/cpu-s")
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}

// cpuTime is the user and system time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
