package upstream

import (
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
)

// ReadStatus is what the metrics read at scrape time: the ejection count
// must be monotonic (a Prometheus counter) even when the backoff count resets.
func TestStateForObservers(t *testing.T) {
	clk := newFakeClock()
	c := &config.Upstream{Targets: targetsN(2),
		Health: config.Health{Passive: &config.PassiveHealth{
			Failures: 1, Eject: config.Duration(time.Second), MaxEject: config.Duration(2 * time.Second), MaxEjectedPercent: 50,
		}},
		CircuitBreaker: &config.CircuitBreaker{ErrorRatio: 50, MinRequests: 1, Window: config.Duration(time.Minute), OpenFor: config.Duration(time.Minute), HalfOpenProbes: 1},
	}
	u := newWith(t, c, options{clock: clk})
	var st Status
	u.ReadStatus(&st)
	if st.Breaker.State != "closed" || len(st.Targets) != 2 || !st.Targets[0].Available || st.Targets[0].Ejections != 0 {
		t.Fatalf("fresh state %+v", st)
	}
	tg := u.Targets()[0]
	u.Observe(tg, time.Now(), true)
	u.ReadStatus(&st)
	if ts := st.Targets[0]; ts.Available || !ts.Ejected || !ts.Healthy || ts.Ejections != 1 {
		t.Fatalf("after ejection %+v", ts)
	}
	clk.Advance(time.Second)
	// Good long enough: the backoff count starts over, the total does not.
	tg.backAt.Store(clk.Now().Add(-3 * time.Second).UnixNano())
	u.Observe(tg, time.Now(), false)
	if tg.ejections.Load() != 0 {
		t.Fatal("backoff count did not reset")
	}
	u.Observe(tg, time.Now(), true)
	u.ReadStatus(&st)
	if ts := st.Targets[0]; ts.Ejections != 2 {
		t.Errorf("ejections %d, want 2 (monotonic)", ts.Ejections)
	}
	call, _ := u.Begin()
	u.Record(&call, true, false)
	u.End(&call)
	u.ReadStatus(&st)
	if st.Breaker.State != "open" {
		t.Errorf("breaker %q, want open", st.Breaker.State)
	}
}
