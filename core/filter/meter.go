package filter

import "sync/atomic"

// Meter is where a filter registers its own metrics, once, while it is
// built: the observer that exports metrics implements it (MeterSource) and
// the gateway hands it to every filter through BuildContext.Meter. Counting
// is then one atomic add on an instrument the filter holds; exporting reads
// the instruments when metrics are scraped, never on the request path.
//
// An instrument is identified by its metric and its label values: asking
// twice, from the same or a later snapshot, returns the same instrument, so
// counts survive reloads as a Prometheus counter must.
type Meter interface {
	Counter(m Metric, labels ...Label) *Counter
	Histogram(m Metric, labels ...Label) Histogram
}

// Metric describes one metric family. Name is the OpenTelemetry name
// ("wasmgate.auth.failures"); a Prometheus exporter turns it into
// wasmgate_auth_failures_total. Unit is UCUM ("{request}", "s"). Buckets
// are a histogram's upper bounds, in Unit.
type Metric struct {
	Name, Unit, Help string
	Buckets          []float64
}

// Label is one label of an instrument. Keys and values come from config
// names and fixed sets only, never from requests, so the number of
// instruments is bounded by the config.
type Label struct{ Key, Value string }

// Counter is a monotonic count. It works without a meter (counting into
// it then goes nowhere), so filters never check for one.
type Counter struct{ n atomic.Uint64 }

// Add counts n more.
func (c *Counter) Add(n uint64) { c.n.Add(n) }

// Inc counts one more.
func (c *Counter) Inc() { c.n.Add(1) }

// Load returns the count so far.
func (c *Counter) Load() uint64 { return c.n.Load() }

// Histogram records a distribution (durations, sizes); recording is a few
// atomic operations and allocates nothing.
type Histogram interface {
	Record(v float64)
}

type noHistogram struct{}

func (noHistogram) Record(float64) {}

// MeterSource is implemented by observers that export metrics; Meter
// returns nil when the config turns metrics off.
type MeterSource interface {
	Meter() Meter
}

// Counter returns the filter's counter for m with labels from bc.Meter, or
// a counter nobody reads when there is no meter (metrics off, or a filter
// built outside a gateway). Call it at build time, not per request.
func (bc *BuildContext) Counter(m Metric, labels ...Label) *Counter {
	if bc.Meter == nil {
		return new(Counter)
	}
	return bc.Meter.Counter(m, labels...)
}

// Histogram returns the filter's histogram for m with labels from
// bc.Meter, or one that records nothing when there is no meter. Call it at
// build time, not per request.
func (bc *BuildContext) Histogram(m Metric, labels ...Label) Histogram {
	if bc.Meter == nil {
		return noHistogram{}
	}
	return bc.Meter.Histogram(m, labels...)
}
