//go:build linux

package main

import (
	"testing"
	"time"
)

func TestHistogram(t *testing.T) {
	// Bucket bounds: every value maps into a bucket whose middle is within 1.6%.
	for _, v := range []uint64{0, 1, 63, 64, 65, 127, 128, 1000, 999_999, 1 << 40, 1<<63 - 1} {
		mid := bucketMid(bucketOf(v))
		if d := float64(mid) - float64(v); d > 0.016*float64(v)+1 || -d > 0.016*float64(v)+1 {
			t.Errorf("value %d: bucket middle %d", v, mid)
		}
	}
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	near := func(got, want time.Duration) bool {
		return got > want*98/100 && got < want*102/100
	}
	if p := h.quantile(0.5); !near(p, 500*time.Microsecond) {
		t.Errorf("p50 = %v", p)
	}
	if p := h.quantile(0.99); !near(p, 990*time.Microsecond) {
		t.Errorf("p99 = %v", p)
	}
}
