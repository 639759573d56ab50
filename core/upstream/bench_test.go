package upstream

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
)

// BenchmarkBalancers measures one pick with 100 targets, each balancer,
// serial (the cost of the pick itself) and parallel (contention on the
// shared counters).
func BenchmarkBalancers(b *testing.B) {
	for _, bal := range []string{"round_robin", "least_conn", "p2c_ewma", "consistent_hash"} {
		c := &config.Upstream{Targets: targetsN(100), Balancer: bal}
		if bal == "consistent_hash" {
			c.Hash = &config.HashKey{Header: "X-User"}
		}
		u := newWith(b, c, options{})
		now := time.Now().UnixNano()
		for i, t := range u.Targets() {
			t.observe(now, time.Duration(i+1)*time.Millisecond)
		}
		u.now.Store(now + int64(time.Second)) // as after traffic: estimates decay
		xs := make([]*filter.Exchange, 1024)
		for i := range xs {
			xs[i] = &filter.Exchange{Request: &http.Request{Header: http.Header{"X-User": {fmt.Sprintf("user-%d", i)}}}}
		}
		b.Run(bal, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				_ = u.Pick(xs[i&1023], nil)
				i++
			}
		})
		b.Run(bal+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					_ = u.Pick(xs[i&1023], nil)
					i++
				}
			})
		})
	}
}
