package gateway

import (
	"fmt"
	"math/bits"
	"testing"
)

// TestKeyHashSpread: keys that differ only in their last bytes spread
// evenly over the sides, and the hash of a key never changes (it is what
// keeps a client on its side across instances and releases).
func TestKeyHashSpread(t *testing.T) {
	if got := keyHash("user-42"); got != keyHash("user-42") {
		t.Fatal("not deterministic")
	}
	const n, total = 10000, 100
	low := 0
	for i := range n {
		slot, _ := bits.Mul64(keyHash(fmt.Sprintf("user-%d", i)), total)
		if slot < 5 {
			low++
		}
	}
	// 5% of 10,000 is 500, σ ≈ 22; the keys are fixed, so this cannot flake.
	if low < 400 || low > 600 {
		t.Errorf("%d of %d sequential keys in the lowest 5%%, want about 500", low, n)
	}
}

// TestSplitCounterExact: every run of total-weight requests without a key
// is split exactly by weight, interleaved.
func TestSplitCounterExact(t *testing.T) {
	for _, total := range []uint64{2, 3, 10, 100, 1000, 7 * 11 * 13} {
		sp := &split{total: total, stride: coprimeStride(total)}
		seen := make([]bool, total)
		for i := range total {
			slot := i % sp.total * sp.stride % sp.total
			if seen[slot] {
				t.Fatalf("total %d: slot %d visited twice in one run", total, slot)
			}
			seen[slot] = true
		}
	}
}
