package upstream

import (
	"time"

	"github.com/wasmgate/wasmgate/core/filter"
)

// Status is an upstream's live state, for the admin API.
type Status struct {
	Name          string
	Balancer      string
	Active        int64 // requests in flight
	Retrying      int64 // retries in flight
	Pending       int64 // attempts waiting for a connection (tracked with max_pending only)
	Retries       uint64
	RetriesDenied uint64 // refused by the retry budget or max_retries
	Panics        uint64 // picks made with every target out
	Breaker       *BreakerStatus
	Targets       []TargetStatus
}

// BreakerStatus is the circuit breaker's state.
type BreakerStatus struct {
	State     string
	OpenUntil time.Time // while open
	Opens     uint64
	Overflows uint64 // requests refused by max_requests or max_pending
}

// TargetStatus is one target's live state.
type TargetStatus struct {
	URL          string
	Host         string
	Weight       int
	Available    bool
	Healthy      bool // by active checks (true without them)
	Ejected      bool
	EjectedUntil time.Time
	Ejections    int32
	LastCheck    string // why the last active check failed
	InFlight     int64
	EWMA         time.Duration
	Ramp         float64 // slow start: the share of its weight taken now
	Requests     uint64
	Failures     uint64
}

// Status returns the upstream's live state.
func (u *Upstream) Status() Status {
	now := time.Now().UnixNano()
	s := Status{
		Name: u.Name, Balancer: u.cfg.Balancer, Active: u.active.Load(), Retrying: u.retrying.Load(),
		Pending: u.pending.Load(), Retries: u.retries.Load(), RetriesDenied: u.retriesDeny.Load(), Panics: u.panics.Load(),
	}
	if s.Balancer == "" {
		s.Balancer = "round_robin"
	}
	if b := u.breaker; b != nil {
		bs := &BreakerStatus{State: BreakerState(b.state.Load()).String(), Opens: b.opens.Load(), Overflows: b.overflows.Load()}
		if bs.State == "open" {
			bs.OpenUntil = time.Unix(0, b.openUntil.Load())
		}
		s.Breaker = bs
	}
	set := u.set.Load()
	for _, t := range set.targets {
		st := t.state.Load()
		ts := TargetStatus{
			URL: t.URL.String(), Host: t.Host, Weight: t.Weight, Available: st == 0,
			Healthy: st&stateDown == 0, Ejected: st&stateEjected != 0, Ejections: t.ejections.Load(),
			InFlight: t.inflight.Load(), EWMA: t.EWMA(now), Ramp: t.ramp(now, set.slowStart),
			Requests: t.requests.Load(), Failures: t.failures.Load(),
		}
		if til := t.ejectedTil.Load(); ts.Ejected && til != 0 {
			ts.EjectedUntil = time.Unix(0, til)
		}
		if why := t.lastCheck.Load(); why != nil {
			ts.LastCheck = *why
		}
		s.Targets = append(s.Targets, ts)
	}
	return s
}

// RetryStats returns the retries made and refused so far.
func (u *Upstream) RetryStats() (made, denied uint64) { return u.retries.Load(), u.retriesDeny.Load() }

// State fills st with the upstream's live state for an observer (metrics at
// scrape time), reusing st.Targets. It reads atomics only: no locks.
func (u *Upstream) State(st *filter.UpstreamState) {
	st.Name = u.Name
	st.Breaker = ""
	if b := u.breaker; b != nil && b.c.ErrorRatio > 0 {
		st.Breaker = BreakerState(b.state.Load()).String()
	}
	st.Retries, st.RetriesDenied = u.retries.Load(), u.retriesDeny.Load()
	st.Targets = st.Targets[:0]
	for _, t := range u.set.Load().targets {
		s := t.state.Load()
		st.Targets = append(st.Targets, filter.TargetState{
			Host: t.Host, Available: s == 0, Healthy: s&stateDown == 0, Ejected: s&stateEjected != 0,
			Ejections: t.ejectTotal.Load(),
		})
	}
}

// HasAvailable reports whether any target may be picked without panic mode
// (none failing active checks or ejected), for readiness.
func (u *Upstream) HasAvailable() bool {
	for _, t := range u.set.Load().targets {
		if t.Available() {
			return true
		}
	}
	return false
}
