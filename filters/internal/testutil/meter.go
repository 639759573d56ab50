package testutil

import (
	"sync"

	"github.com/wasmgate/wasmgate/core/filter"
)

// Meters is the meter filters built by this package (and by tests that
// pass it in BuildContext.Meter) count into when the gateway's metrics are
// off: shared by every build in the test binary, as a gateway's meter is
// shared by its snapshots, so read counts as a difference.
var Meters = &Meter{}

// Meter is a filter.Meter whose counts tests read with Count.
type Meter struct {
	mu   sync.Mutex
	rows []meterRow
}

type meterRow struct {
	name   string
	labels []filter.Label
	c      *filter.Counter
}

// Counter implements filter.Meter: the same metric and labels give the
// same counter.
func (m *Meter) Counter(md filter.Metric, labels ...filter.Label) *filter.Counter {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.rows {
		if r.name == md.Name && equalLabels(r.labels, labels) {
			return r.c
		}
	}
	c := new(filter.Counter)
	m.rows = append(m.rows, meterRow{md.Name, append([]filter.Label(nil), labels...), c})
	return c
}

// Histogram implements filter.Meter; the tests read histograms through
// the gateway's metrics, so this one records nothing.
func (m *Meter) Histogram(filter.Metric, ...filter.Label) filter.Histogram { return noHistogram{} }

type noHistogram struct{}

func (noHistogram) Record(float64) {}

// Count sums the counters of the metric named name whose labels include
// every one of labels.
func (m *Meter) Count(name string, labels ...filter.Label) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n uint64
	for _, r := range m.rows {
		if r.name == name && hasLabels(r.labels, labels) {
			n += r.c.Load()
		}
	}
	return n
}

// AuthFailures is the count of wasmgate_auth_failures_total for filter and
// reason, over every route.
func (m *Meter) AuthFailures(filterName, reason string) uint64 {
	return m.Count("wasmgate.auth.failures", filter.Label{Key: "filter", Value: filterName}, filter.Label{Key: "reason", Value: reason})
}

func equalLabels(a, b []filter.Label) bool {
	return len(a) == len(b) && hasLabels(a, b)
}

func hasLabels(have, want []filter.Label) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			if h == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

var _ filter.Meter = (*Meter)(nil)
