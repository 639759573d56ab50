package identity

import (
	"sort"
	"sync"
	"sync/atomic"
)

// Failures counts refused requests by route, filter and reason ("users",
// "jwt", "expired"). Filters take their counters once at build time, so
// counting on the hot path is one atomic add. The observability filters
// export it as wasmgate_auth_failures_total{http_route, filter, reason}:
//
//	identity.Failures.Each(func(route, filter, reason string, n uint64) { ... })
//
// Counts are process-wide and survive reloads, as a Prometheus counter must.
var Failures = &FailureCounts{}

// FailureCounts is a set of monotonic counters keyed by (route, filter,
// reason); route names come from config, so their number is bounded.
type FailureCounts struct {
	m sync.Map // failureKey -> *atomic.Uint64
}

type failureKey struct{ route, filter, reason string }

// Counter returns the counter for (route, filter, reason), creating it at
// zero. Call it at build time, not per request.
func (f *FailureCounts) Counter(route, filter, reason string) *atomic.Uint64 {
	k := failureKey{route, filter, reason}
	if c, ok := f.m.Load(k); ok {
		return c.(*atomic.Uint64)
	}
	c, _ := f.m.LoadOrStore(k, new(atomic.Uint64))
	return c.(*atomic.Uint64)
}

// Get returns the current count for (filter, reason) over every route.
func (f *FailureCounts) Get(filter, reason string) uint64 {
	var n uint64
	f.m.Range(func(k, v any) bool {
		if fk := k.(failureKey); fk.filter == filter && fk.reason == reason {
			n += v.(*atomic.Uint64).Load()
		}
		return true
	})
	return n
}

// Each calls fn for every counter, sorted by route, filter, then reason.
func (f *FailureCounts) Each(fn func(route, filter, reason string, n uint64)) {
	type row struct {
		k failureKey
		n uint64
	}
	var rows []row
	f.m.Range(func(k, v any) bool {
		rows = append(rows, row{k.(failureKey), v.(*atomic.Uint64).Load()})
		return true
	})
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i].k, rows[j].k
		if a.route != b.route {
			return a.route < b.route
		}
		if a.filter != b.filter {
			return a.filter < b.filter
		}
		return a.reason < b.reason
	})
	for _, r := range rows {
		fn(r.k.route, r.k.filter, r.k.reason, r.n)
	}
}
