package upstream

import (
	"time"
)

// Status is an upstream's live state at one moment, the one model of it:
// GET /upstreams writes it as JSON (the tags are that API) and the metrics
// read it at scrape time, so the two cannot tell different stories.
type Status struct {
	Name          string `json:"name"`
	Balancer      string `json:"balancer"`
	Active        int64  `json:"in_flight"`         // requests in flight
	Retrying      int64  `json:"retries_in_flight"` // retries in flight
	Pending       int64  `json:"pending"`           // attempts waiting for a connection (tracked with max_pending only)
	Retries       uint64 `json:"retries"`           // granted by the retry budget so far
	RetriesDenied uint64 `json:"retries_denied"`    // refused by the retry budget or max_retries
	Panics        uint64 `json:"panic_picks"`       // picks made with every target out
	// Breaker is the zero value when the upstream has no circuit_breaker
	// block (and then is left out of the JSON).
	Breaker BreakerStatus `json:"circuit_breaker,omitzero"`
	// DNS is the zero value (left out of the JSON) without dns.refresh.
	DNS     DNSStatus      `json:"dns,omitzero"`
	Targets []TargetStatus `json:"targets"`
}

// DNSStatus is an upstream's DNS refresh: every target name is looked up
// each dns.refresh; a failed lookup keeps the name's last good addresses.
type DNSStatus struct {
	Resolver  string `json:"resolver"` // dns.resolver, or "system"
	Lookups   uint64 `json:"lookups"`  // names looked up, the first at start included
	Failures  uint64 `json:"failures"` // lookups that failed or found no address
	Changes   uint64 `json:"changes"`  // refreshes that changed the targets
	LastError string `json:"last_error,omitempty"`
}

// BreakerStatus is an upstream's circuit breaker: its limits' refusals and
// the error-ratio breaker's state.
type BreakerStatus struct {
	// State is the error-ratio breaker's: closed, half-open or open; off
	// when error_ratio is 0, since then only the limits apply and nothing
	// can trip (the metrics export no state for it either).
	State     string    `json:"state"`
	OpenUntil time.Time `json:"open_until,omitzero"` // while open
	Opens     uint64    `json:"opens"`
	Overflows uint64    `json:"overflows"` // requests refused by max_requests or max_pending
}

// BreakerOff is BreakerStatus.State for a circuit_breaker without
// error_ratio.
const BreakerOff = "off"

// TargetStatus is one target's live state.
type TargetStatus struct {
	URL          string    `json:"url"`
	Host         string    `json:"host"` // host:port, as the attempt metrics name it
	Weight       int       `json:"weight"`
	Available    bool      `json:"available"` // neither failing active checks nor ejected
	Healthy      bool      `json:"healthy"`   // by active checks (true without them)
	Ejected      bool      `json:"ejected"`   // by passive outlier detection
	EjectedUntil time.Time `json:"ejected_until,omitzero"`
	// Ejections counts the target's passive ejections. It only grows: a
	// reload that rebuilds the upstream carries it over to the same target
	// (Inherit), so it serves as a metrics counter too. The count that sets
	// the next ejection's length, which starts over after a good spell, is
	// internal backoff state and not shown.
	Ejections  uint64  `json:"ejections"`
	LastCheck  string  `json:"last_check_error,omitempty"` // why the last active check failed
	InFlight   int64   `json:"in_flight"`
	EWMAMillis float64 `json:"ewma_ms"`          // peak EWMA of latency to the response headers
	Ramp       float64 `json:"slow_start_share"` // slow start: the share of its weight taken now
	Requests   uint64  `json:"requests"`
	Failures   uint64  `json:"failures"`
}

// Status returns the upstream's live state.
func (u *Upstream) Status() Status {
	var s Status
	u.ReadStatus(&s)
	return s
}

// ReadStatus fills s with the upstream's live state, reusing s.Targets, so
// a metrics scrape that reads every upstream into one Status allocates
// nothing. It reads atomics only: no locks.
func (u *Upstream) ReadStatus(s *Status) {
	now := time.Now().UnixNano()
	*s = Status{
		Name: u.Name, Balancer: u.cfg.Balancer, Active: u.active.Load(), Retrying: u.retrying.Load(),
		Pending: u.pending.Load(), Retries: u.retries.Load(), RetriesDenied: u.retriesDeny.Load(), Panics: u.panics.Load(),
		Targets: s.Targets[:0],
	}
	if s.Balancer == "" {
		s.Balancer = balancers[0].name
	}
	if b := u.breaker; b != nil {
		s.Breaker = BreakerStatus{State: BreakerOff, Opens: b.opens.Load(), Overflows: b.overflows.Load()}
		if b.c.ErrorRatio > 0 {
			st := BreakerState(b.state.Load())
			s.Breaker.State = st.String()
			if st == BreakerOpen {
				s.Breaker.OpenUntil = time.Unix(0, b.openUntil.Load())
			}
		}
	}
	if u.cfg.DNS.Refresh > 0 {
		s.DNS = DNSStatus{Resolver: u.cfg.DNS.Resolver, Lookups: u.dns.lookups.Load(),
			Failures: u.dns.failures.Load(), Changes: u.dns.changes.Load()}
		if s.DNS.Resolver == "" {
			s.DNS.Resolver = "system"
		}
		if e := u.dns.lastErr.Load(); e != nil {
			s.DNS.LastError = *e
		}
	}
	set := u.set.Load()
	for _, t := range set.targets {
		st := t.state.Load()
		ts := TargetStatus{
			URL: t.url, Host: t.Host, Weight: t.Weight, Available: st == 0,
			Healthy: st&stateDown == 0, Ejected: st&stateEjected != 0, Ejections: t.ejectTotal.Load(),
			InFlight: t.inflight.Load(), EWMAMillis: float64(t.EWMA(now).Microseconds()) / 1000,
			Ramp: t.ramp(now, set.slowStart), Requests: t.requests.Load(), Failures: t.failures.Load(),
		}
		if til := t.ejectedTil.Load(); ts.Ejected && til != 0 {
			ts.EjectedUntil = time.Unix(0, til)
		}
		if why := t.lastCheck.Load(); why != nil {
			ts.LastCheck = *why
		}
		s.Targets = append(s.Targets, ts)
	}
}

// StatusSource reads the live state of one config snapshot's upstreams.
type StatusSource interface {
	// ReadStatuses calls fn for every upstream, sorted by name. The Status
	// is reused between calls: it is valid during the call only.
	ReadStatuses(fn func(*Status))
}

// StatusObserver is implemented by observers (filter.Observer) that report
// upstream state: health per target, circuit breakers, retries, ejections.
// The gateway hands each snapshot's observer the snapshot's upstreams once
// they are built; the observer reads them when it needs to (at scrape
// time), so the request path pays nothing.
type StatusObserver interface {
	ObserveUpstreams(src StatusSource)
}

// RetryStats returns the retries made and refused so far.
func (u *Upstream) RetryStats() (made, denied uint64) { return u.retries.Load(), u.retriesDeny.Load() }

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
