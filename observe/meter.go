package observe

import (
	"context"
	"io"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/wasmgate/wasmgate/core/filter"
)

// filterMeters holds the counters filters registered through
// filter.BuildContext.Meter, by metric and label values. It lives in the
// kept Meters, so a counter a reload asks for again is the same counter and
// keeps its count. Filters count with one atomic add; the counts are read
// into observable instruments when /metrics is scraped.
type filterMeters struct {
	mu         sync.Mutex
	families   map[string]*counterFamily
	counters   map[counterKey]*filter.Counter
	histograms map[string]metric.Float64Histogram
}

type counterKey struct {
	name   string
	labels attribute.Distinct
}

// counterFamily is one metric's instrument and every labelled counter of it.
type counterFamily struct {
	mu   sync.Mutex // registration (build) against reading (scrape)
	rows []counterRow
}

type counterRow struct {
	attrs metric.ObserveOption
	c     *filter.Counter
}

// Counter implements filter.Meter. A metric whose instrument cannot be
// made (a name OTel refuses) still gets a counter, exported nowhere: the
// names are the filters' own constants, fixed by their tests.
func (m *Meters) Counter(md filter.Metric, labels ...filter.Label) *filter.Counter {
	kvs := make([]attribute.KeyValue, len(labels))
	for i, l := range labels {
		kvs[i] = attribute.String(l.Key, l.Value)
	}
	set := attribute.NewSet(kvs...)
	fm := &m.filterMeters
	fm.mu.Lock()
	defer fm.mu.Unlock()
	key := counterKey{md.Name, set.Equivalent()}
	if c, ok := fm.counters[key]; ok {
		return c
	}
	c := new(filter.Counter)
	if fm.counters == nil {
		fm.counters = map[counterKey]*filter.Counter{}
		fm.families = map[string]*counterFamily{}
	}
	fm.counters[key] = c
	fam := fm.families[md.Name]
	if fam == nil {
		fam = m.newCounterFamily(md)
		fm.families[md.Name] = fam
	}
	if fam != nil {
		fam.mu.Lock()
		fam.rows = append(fam.rows, counterRow{metric.WithAttributeSet(set), c})
		fam.mu.Unlock()
	}
	return c
}

func (m *Meters) newCounterFamily(md filter.Metric) *counterFamily {
	fam := &counterFamily{}
	_, err := m.meter.Int64ObservableCounter(md.Name, metric.WithUnit(md.Unit), metric.WithDescription(md.Help),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			fam.mu.Lock()
			defer fam.mu.Unlock()
			for _, r := range fam.rows {
				o.Observe(int64(r.c.Load()), r.attrs)
			}
			return nil
		}))
	if err != nil {
		return nil
	}
	return fam
}

// Histogram implements filter.Meter with a synchronous OTel histogram: OTel
// has no observable one, and its aggregation already lives in the kept
// provider, so a reload's filter records into the same series. A metric
// whose instrument cannot be made records nothing.
func (m *Meters) Histogram(md filter.Metric, labels ...filter.Label) filter.Histogram {
	kvs := make([]attribute.KeyValue, len(labels))
	for i, l := range labels {
		kvs[i] = attribute.String(l.Key, l.Value)
	}
	fm := &m.filterMeters
	fm.mu.Lock()
	defer fm.mu.Unlock()
	h, ok := fm.histograms[md.Name]
	if !ok {
		var err error
		h, err = m.meter.Float64Histogram(md.Name, metric.WithUnit(md.Unit), metric.WithDescription(md.Help),
			metric.WithExplicitBucketBoundaries(md.Buckets...))
		if err != nil {
			return noHistogram{}
		}
		if fm.histograms == nil {
			fm.histograms = map[string]metric.Float64Histogram{}
		}
		fm.histograms[md.Name] = h
	}
	return boundHistogram{h, recordOpts(kvs...)}
}

// boundHistogram is a histogram with its labels bound at build time, so
// recording allocates nothing.
type boundHistogram struct {
	h    metric.Float64Histogram
	opts []metric.RecordOption
}

func (b boundHistogram) Record(v float64) { b.h.Record(context.Background(), v, b.opts...) }

type noHistogram struct{}

func (noHistogram) Record(float64) {}

// From returns the gateway's metrics for a filter built outside a gateway
// (tests), or nil when metrics are off: with it as bc.Meter the filter
// registers as under a gateway, and its Handler serves what it counted.
func From(bc *filter.BuildContext) *Meters {
	if bc == nil || bc.Config == nil || !metricsOf(bc.Config).Prometheus {
		return nil
	}
	v, err := bc.Keep(metricsKey{}, func() (io.Closer, error) { return newMeters() })
	if err != nil {
		return nil
	}
	return v.(*Meters)
}

// Meter gives the filters the kept meters to register their counters in;
// nil when metrics are off.
func (o *Observer) Meter() filter.Meter {
	if o.meters == nil {
		return nil
	}
	return o.meters
}

var (
	_ filter.Meter       = (*Meters)(nil)
	_ filter.MeterSource = (*Observer)(nil)
)
