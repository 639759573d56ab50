package identity

import (
	"sort"
	"sync"
	"sync/atomic"
)

// Failures counts refused requests by filter and reason ("jwt", "expired").
// Filters take their counters once at build time, so counting on the hot
// path is one atomic add. The observability filters export it, e.g. as
// wasmgate_auth_failures_total{filter, reason}:
//
//	identity.Failures.Each(func(filter, reason string, n uint64) { ... })
//
// Counts are process-wide and survive reloads, as a Prometheus counter must.
var Failures = &FailureCounts{}

// FailureCounts is a set of monotonic counters keyed by (filter, reason).
type FailureCounts struct {
	m sync.Map // failureKey -> *atomic.Uint64
}

type failureKey struct{ filter, reason string }

// Counter returns the counter for (filter, reason), creating it at zero.
// Call it at build time, not per request.
func (f *FailureCounts) Counter(filter, reason string) *atomic.Uint64 {
	k := failureKey{filter, reason}
	if c, ok := f.m.Load(k); ok {
		return c.(*atomic.Uint64)
	}
	c, _ := f.m.LoadOrStore(k, new(atomic.Uint64))
	return c.(*atomic.Uint64)
}

// Get returns the current count for (filter, reason).
func (f *FailureCounts) Get(filter, reason string) uint64 {
	if c, ok := f.m.Load(failureKey{filter, reason}); ok {
		return c.(*atomic.Uint64).Load()
	}
	return 0
}

// Each calls fn for every counter, sorted by filter then reason.
func (f *FailureCounts) Each(fn func(filter, reason string, n uint64)) {
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
		if rows[i].k.filter != rows[j].k.filter {
			return rows[i].k.filter < rows[j].k.filter
		}
		return rows[i].k.reason < rows[j].k.reason
	})
	for _, r := range rows {
		fn(r.k.filter, r.k.reason, r.n)
	}
}
