package filter

// Metrics whose names are only known at run time (a Wasm guest defines its
// own with proxy_define_metric) cannot be registered at build time as
// instruments. A filter hands the meter a Collector instead, which the
// exporter asks for the current values at each scrape; nothing runs on the
// request path.

// SampleKind is the type of a collected metric.
type SampleKind uint8

const (
	SampleCounter   SampleKind = iota // monotonic
	SampleGauge                       // goes up and down
	SampleHistogram                   // Count observations summing to Value, in Buckets
)

// Sample is one series of a collected metric.
type Sample struct {
	// Name is the exported name, complete (suffixes such as _total
	// included): the collector owns its naming rule. Samples of one Name
	// must agree on Kind, Help and label keys; the exporter drops those
	// that do not, and repeats of a series, rather than fail the scrape.
	Name   string
	Help   string
	Kind   SampleKind
	Labels []Label
	Value  float64 // counter, gauge; a histogram's sum
	Count  uint64  // histogram: the number of observations
	// Bounds are a histogram's bucket upper bounds, ascending, and Buckets
	// the cumulative count of observations at or below each.
	Bounds  []float64
	Buckets []uint64
}

// Collector reports a filter's run-time metrics: it appends the current
// samples to dst. It is called at scrape time, from any goroutine.
type Collector interface {
	Collect(dst []Sample) []Sample
}

// CoreCollector marks a Collector of the gateway's own (not a Wasm
// guest's): it may export wasmgate_ names, which are otherwise refused so
// that a guest cannot pass its numbers off as the gateway's.
type CoreCollector interface {
	Collector
	CoreMetrics()
}

// CollectorMeter is a Meter that also exports collected metrics. Collect
// registers c under key, replacing what an earlier build (a previous
// snapshot) registered under it, so a reload does not add a second copy.
type CollectorMeter interface {
	Meter
	Collect(key string, c Collector)
}

// Collect registers c with bc.Meter when it exports collected metrics; else
// (metrics off, a filter built outside a gateway) it does nothing. Call it
// at build time.
func (bc *BuildContext) Collect(key string, c Collector) {
	if m, ok := bc.Meter.(CollectorMeter); ok {
		m.Collect(key, c)
	}
}
