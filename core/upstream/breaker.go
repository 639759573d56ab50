package upstream

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
)

// Circuit breaking has two parts, both Envoy's: limits on what an upstream
// is asked to do at once (requests, requests waiting for a connection,
// retries), checked in Begin and AcquireRetry; and an error-ratio breaker
// that stops sending to an upstream whose requests mostly fail, then lets
// a few probes through to see whether it recovered.

// BreakerState is the error-ratio breaker's state.
type BreakerState int32

const (
	BreakerClosed   BreakerState = iota // requests flow
	BreakerOpen                         // requests are refused until the open time ends
	BreakerHalfOpen                     // a few probes decide: close or open again
)

func (s BreakerState) String() string {
	switch s {
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half-open"
	}
	return "closed"
}

type breaker struct {
	c     *config.CircuitBreaker
	clock clock

	state     atomic.Int32
	openUntil atomic.Int64 // unix nanos
	// The error ratio is over a sliding window, approximated by two fixed
	// ones: the previous window's counts weigh by how much of it the
	// sliding window still covers, so failures straddling a boundary still
	// count together.
	winStart   atomic.Int64
	total      atomic.Int64 // requests finished in the current window
	failed     atomic.Int64
	prevTotal  atomic.Int64 // the same for the window before it
	prevFailed atomic.Int64
	probes     atomic.Int32 // admitted while half-open
	probeOK    atomic.Int32
	opens      atomic.Uint64
	overflows  atomic.Uint64 // requests refused by a limit
	mu         sync.Mutex    // serializes transitions
}

func newBreaker(c *config.CircuitBreaker, clk clock) *breaker {
	b := &breaker{c: c, clock: clk}
	b.winStart.Store(clk.Now().UnixNano())
	return b
}

// Rejection is a request the upstream refused to take: the client gets
// 503 with Retry-After.
type Rejection struct {
	Reason     string
	RetryAfter time.Duration
}

var (
	rejectRequests = &Rejection{Reason: "upstream overloaded: too many concurrent requests", RetryAfter: time.Second}
	rejectPending  = &Rejection{Reason: "upstream overloaded: too many requests waiting for a connection", RetryAfter: time.Second}
	rejectProbing  = &Rejection{Reason: "upstream circuit breaker is half-open; probing", RetryAfter: time.Second}
)

// admit asks the error-ratio breaker; probe is set for a half-open probe.
func (b *breaker) admit() (probe bool, rej *Rejection) {
	if b.c.ErrorRatio == 0 {
		return false, nil
	}
	switch BreakerState(b.state.Load()) {
	case BreakerClosed:
		return false, nil
	case BreakerOpen:
		now := b.clock.Now().UnixNano()
		if until := b.openUntil.Load(); now < until {
			wait := time.Duration(until - now)
			return false, &Rejection{Reason: "upstream circuit breaker is open", RetryAfter: wait}
		}
		b.mu.Lock()
		if BreakerState(b.state.Load()) == BreakerOpen {
			b.probes.Store(0)
			b.probeOK.Store(0)
			b.state.Store(int32(BreakerHalfOpen))
		}
		b.mu.Unlock()
	}
	if BreakerState(b.state.Load()) != BreakerHalfOpen {
		return false, nil
	}
	if b.probes.Add(1) > int32(b.c.HalfOpenProbes) {
		b.probes.Add(-1)
		return false, rejectProbing
	}
	return true, nil
}

// record counts one finished request. neutral outcomes (the client left)
// say nothing about the upstream and only give a probe slot back.
func (b *breaker) record(probe, failed, neutral bool) {
	if b.c.ErrorRatio == 0 {
		return
	}
	if probe {
		b.mu.Lock()
		defer b.mu.Unlock()
		if BreakerState(b.state.Load()) != BreakerHalfOpen {
			return
		}
		switch {
		case neutral:
			b.probes.Add(-1)
		case failed:
			b.openLocked()
		case b.probeOK.Add(1) >= int32(b.c.HalfOpenProbes):
			b.state.Store(int32(BreakerClosed))
			b.resetWindow(b.clock.Now().UnixNano())
		}
		return
	}
	if neutral || BreakerState(b.state.Load()) != BreakerClosed {
		return
	}
	now := b.clock.Now().UnixNano()
	win := int64(b.c.Window)
	ws := b.winStart.Load()
	if now-ws >= win {
		b.roll(ws, now, win)
		ws = b.winStart.Load()
	}
	n := b.total.Add(1)
	if !failed {
		return
	}
	f := b.failed.Add(1)
	// The previous window's share of the sliding window ending now.
	weight := 1 - float64(now-ws)/float64(win)
	if weight < 0 {
		weight = 0
	}
	estN := float64(n) + weight*float64(b.prevTotal.Load())
	estF := float64(f) + weight*float64(b.prevFailed.Load())
	if estN >= float64(b.c.MinRequests) && estF*100 >= float64(b.c.ErrorRatio)*estN {
		b.mu.Lock()
		if BreakerState(b.state.Load()) == BreakerClosed {
			b.openLocked()
		}
		b.mu.Unlock()
	}
}

func (b *breaker) openLocked() {
	now := b.clock.Now()
	b.openUntil.Store(now.Add(b.c.OpenFor.D()).UnixNano())
	b.state.Store(int32(BreakerOpen))
	b.opens.Add(1)
	b.resetWindow(now.UnixNano())
}

// roll starts the window that now falls in, once among racing recorders:
// the window that ended becomes the previous one, or, if more than a whole
// window passed since, nothing recent is left.
func (b *breaker) roll(ws, now, win int64) {
	next := ws + win
	if now-ws >= 2*win {
		next = now
	}
	if !b.winStart.CompareAndSwap(ws, next) {
		return // another recorder rolled it
	}
	t, f := b.total.Swap(0), b.failed.Swap(0)
	if next != ws+win {
		t, f = 0, 0
	}
	b.prevTotal.Store(t)
	b.prevFailed.Store(f)
}

func (b *breaker) resetWindow(now int64) {
	b.winStart.Store(now)
	b.total.Store(0)
	b.failed.Store(0)
	b.prevTotal.Store(0)
	b.prevFailed.Store(0)
}

// Call is one exchange's standing with its upstream, from Begin to End.
// It lives in the proxy's per-exchange state; it is not safe for
// concurrent use.
type Call struct {
	admitted  bool
	probe     bool
	retrySlot bool
	recorded  bool
}

// Begin admits one exchange: the concurrency limits and the error-ratio
// breaker may refuse it. An admitted exchange must be ended with End.
func (u *Upstream) Begin() (Call, *Rejection) {
	var c Call
	n := u.active.Add(1)
	if b := u.breaker; b != nil {
		if m := b.c.MaxRequests; m > 0 && n > int64(m) {
			u.active.Add(-1)
			b.overflows.Add(1)
			return c, rejectRequests
		}
		if m := b.c.MaxPending; m > 0 && u.pending.Load() >= int64(m) {
			u.active.Add(-1)
			b.overflows.Add(1)
			return c, rejectPending
		}
		probe, rej := b.admit()
		if rej != nil {
			u.active.Add(-1)
			return c, rej
		}
		c.probe = probe
	}
	c.admitted = true
	return c, nil
}

// Record gives the breaker the exchange's outcome, once: failed (5xx,
// connect failure, reset, timeout) or not; neutral when the client left.
func (u *Upstream) Record(c *Call, failed, neutral bool) {
	if c.recorded || !c.admitted {
		return
	}
	c.recorded = true
	if u.breaker != nil {
		u.breaker.record(c.probe, failed, neutral)
	}
}

// End releases what Begin and AcquireRetry took. It may be called more
// than once.
func (u *Upstream) End(c *Call) {
	if !c.admitted {
		return
	}
	u.Record(c, false, true) // a no-op if the outcome was recorded
	if c.retrySlot {
		u.retrying.Add(-1)
		c.retrySlot = false
	}
	u.active.Add(-1)
	c.admitted = false
}

// AcquireRetry asks for one more attempt. The retry budget allows
// max(min_retries, budget% × requests in flight) retries in flight at once
// on this upstream (Envoy's retry budget), and circuit_breaker.max_retries
// caps that; so in an outage retries add at most budget% to the load
// instead of multiplying it. The slot is held until the next
// AcquireRetry or End.
func (u *Upstream) AcquireRetry(c *Call, p *RetryPolicy) bool {
	if c.retrySlot {
		u.retrying.Add(-1)
		c.retrySlot = false
	}
	limit := max(int64(p.minRetries), int64(p.budget/100*float64(u.active.Load())))
	if b := u.breaker; b != nil && b.c.MaxRetries > 0 {
		limit = min(limit, int64(b.c.MaxRetries))
	}
	if u.retrying.Add(1) > limit {
		u.retrying.Add(-1)
		u.retriesDeny.Add(1)
		return false
	}
	c.retrySlot = true
	u.retries.Add(1)
	return true
}

// WaitConn and GotConn bracket an attempt's wait for a connection, for the
// max_pending limit. WaitConn reports whether it counted.
func (u *Upstream) WaitConn() { u.pending.Add(1) }

// GotConn ends a wait counted by WaitConn.
func (u *Upstream) GotConn() { u.pending.Add(-1) }

// TracksPending reports whether the upstream limits pending requests, so
// the proxy installs the connection hooks only then.
func (u *Upstream) TracksPending() bool { return u.breaker != nil && u.breaker.c.MaxPending > 0 }
