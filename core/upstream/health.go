package upstream

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
)

// Health has two independent inputs, each with its own bit in
// Target.state: active checks (stateDown) and passive outlier detection
// (stateEjected). A target is picked only with neither set, unless every
// target is out (see Pick).

// CheckNow runs one round of active health checks, all targets in
// parallel, and applies the results. The background loop calls it every
// interval; tests call it directly instead of waiting for the loop.
func (u *Upstream) CheckNow(ctx context.Context) {
	a := u.cfg.Health.Active
	if a == nil {
		return
	}
	var wg sync.WaitGroup
	for _, t := range u.set.Load().targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, why := u.probe(ctx, a, t)
			if ctx.Err() != nil {
				return // stopped, not a verdict on the target
			}
			u.recordCheck(t, a, ok, why)
		}()
	}
	wg.Wait()
}

// probe sends one health check request to t.
func (u *Upstream) probe(ctx context.Context, a *config.ActiveHealth, t *Target) (bool, string) {
	if a.GRPC != nil {
		return u.probeGRPC(ctx, a, t) // grpchealth.go
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL.Scheme+"://"+t.URL.Host+t.URL.Path+a.Path, nil)
	if err != nil {
		return false, err.Error()
	}
	req.Host = t.Host
	if a.Host != "" {
		req.Host = a.Host
	}
	req.Header.Set("User-Agent", "wasmgate-health-check")
	c := *u.checkCli
	c.Transport = t.roundTripper()
	resp, err := c.Do(req)
	if err != nil {
		return false, err.Error()
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	for _, s := range a.Statuses {
		if lo, hi, err := config.ParseStatusRange(s); err == nil && resp.StatusCode >= lo && resp.StatusCode <= hi {
			return true, ""
		}
	}
	return false, fmt.Sprintf("status %d", resp.StatusCode)
}

// recordCheck applies one check result: healthy_threshold passes in a row
// bring a target back, unhealthy_threshold failures take it out.
func (u *Upstream) recordCheck(t *Target, a *config.ActiveHealth, ok bool, why string) {
	if ok {
		t.failsActive.Store(0)
		t.lastCheck.Store(nil)
		if t.passes.Add(1) >= int32(a.HealthyThreshold) && t.state.Load()&stateDown != 0 {
			u.setState(t, stateDown, false)
		}
		return
	}
	t.passes.Store(0)
	t.lastCheck.Store(&why)
	if t.failsActive.Add(1) >= int32(a.UnhealthyThreshold) && t.state.Load()&stateDown == 0 {
		u.setState(t, stateDown, true)
	}
}

// setState sets or clears one state bit and wakes Changed waiters. A
// target that becomes available again starts its slow start.
func (u *Upstream) setState(t *Target, bit uint32, on bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.setStateLocked(t, bit, on)
}

func (u *Upstream) setStateLocked(t *Target, bit uint32, on bool) {
	old := t.state.Load()
	if on {
		t.state.Or(bit)
	} else {
		t.state.And(^bit)
	}
	if old != 0 && t.state.Load() == 0 {
		now := u.clock.Now().UnixNano()
		t.backAt.Store(now)
		if u.cfg.SlowStart > 0 {
			t.rampFrom.Store(now)
		}
	}
	if old != t.state.Load() {
		u.notify()
	}
}

// failurePenalty is the latency a failed attempt counts as in the peak
// EWMA: a target that fails fast must not look fast.
const failurePenalty = time.Second

// Observe records the outcome of one attempt on t, started at start: its
// latency for p2c_ewma (a failure counts as failurePenalty at least), and a
// failure or success for passive outlier detection.
func (u *Upstream) Observe(t *Target, start time.Time, failed bool) {
	end := time.Now()
	rtt := end.Sub(start)
	now := end.UnixNano()
	u.now.Store(now)
	if failed {
		t.failures.Add(1)
		rtt = max(rtt, failurePenalty)
	}
	t.observe(now, rtt)
	p := u.cfg.Health.Passive
	if p == nil {
		return
	}
	if !failed {
		if t.fails.Load() != 0 {
			t.fails.Store(0)
		}
		// A target that stayed good for max_eject starts over at the base
		// ejection time.
		if t.ejections.Load() != 0 && now-t.backAt.Load() > int64(p.MaxEject) {
			t.ejections.Store(0)
		}
		return
	}
	if t.fails.Add(1) >= int32(p.Failures) {
		u.eject(t, p)
	}
}

// eject takes t out for eject × (ejections so far), at most max_eject,
// unless max_ejected_percent of the targets are out already (one target may
// always be ejected).
func (u *Upstream) eject(t *Target, p *config.PassiveHealth) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed || t.state.Load()&stateEjected != 0 {
		return
	}
	targets := u.set.Load().targets
	ejected := 0
	for _, o := range targets {
		if o.state.Load()&stateEjected != 0 {
			ejected++
		}
	}
	if ejected >= max(1, len(targets)*p.MaxEjectedPercent/100) {
		return
	}
	n := t.ejections.Add(1)
	t.ejectTotal.Add(1)
	d := min(time.Duration(n)*p.Eject.D(), p.MaxEject.D())
	t.fails.Store(0)
	t.ejectedTil.Store(u.clock.Now().Add(d).UnixNano())
	u.setStateLocked(t, stateEjected, true)
	u.timers[t] = u.clock.AfterFunc(d, func() { u.uneject(t) })
}

func (u *Upstream) uneject(t *Target) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.timers, t)
	if u.closed {
		return
	}
	t.ejectedTil.Store(0)
	u.setStateLocked(t, stateEjected, false)
}
