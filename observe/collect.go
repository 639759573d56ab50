package observe

import (
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wasmgate/wasmgate/core/filter"
)

// collected exports the filters' collected metrics (filter.Collector):
// series whose names are only known at run time, such as the metrics a
// Wasm guest defines. They go to the Prometheus registry directly, as an
// unchecked collector, not through OTel: OTel instruments are declared up
// front and have no observable histogram, and a guest's histogram must be
// exported as one. The collector decides the names; this side only refuses
// what would break the scrape (an invalid name, a family whose samples
// disagree, a repeated series), so one bad guest metric costs that metric,
// never the whole /metrics page.
type collected struct {
	mu  sync.Mutex
	by  map[string]filter.Collector
	buf []filter.Sample // reused between scrapes; guarded by scrape
	// scrape serializes collection, which reuses buf.
	scrape sync.Mutex
}

// Collect implements filter.CollectorMeter.
func (m *Meters) Collect(key string, c filter.Collector) {
	m.collected.mu.Lock()
	defer m.collected.mu.Unlock()
	if m.collected.by == nil {
		m.collected.by = map[string]filter.Collector{}
	}
	m.collected.by[key] = c
}

// Describe sends nothing: the names are known only at scrape time, which
// makes this an unchecked collector for the registry.
func (*collected) Describe(chan<- *prometheus.Desc) {}

// family is what the first sample of a name fixed for the rest.
type family struct {
	kind filter.SampleKind
	help string
	keys []string
	desc *prometheus.Desc
}

func (c *collected) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	keys := make([]string, 0, len(c.by))
	for k := range c.by {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	cols := make([]filter.Collector, len(keys))
	for i, k := range keys {
		cols[i] = c.by[k]
	}
	c.mu.Unlock()

	c.scrape.Lock()
	defer c.scrape.Unlock()
	samples := c.buf[:0]
	var coreEnd []int // [start, end) ranges of samples from core collectors
	for _, col := range cols {
		start := len(samples)
		samples = col.Collect(samples)
		if _, ok := col.(filter.CoreCollector); ok {
			coreEnd = append(coreEnd, start, len(samples))
		}
	}
	fromCore := func(i int) bool {
		for j := 0; j < len(coreEnd); j += 2 {
			if i >= coreEnd[j] && i < coreEnd[j+1] {
				return true
			}
		}
		return false
	}
	families := map[string]*family{}
	seen := map[string]bool{}
	for i := range samples {
		s := &samples[i]
		fam := families[s.Name]
		if fam == nil {
			if !validMetricName(s.Name) || reservedName(s.Name) && !fromCore(i) {
				continue
			}
			keys := make([]string, len(s.Labels))
			for j, l := range s.Labels {
				keys[j] = l.Key
			}
			fam = &family{kind: s.Kind, help: s.Help, keys: keys}
			if validLabels(keys) {
				fam.desc = prometheus.NewDesc(s.Name, s.Help, keys, nil)
			}
			families[s.Name] = fam
		}
		if fam.desc == nil || fam.kind != s.Kind || fam.help != s.Help || !sameKeys(fam.keys, s.Labels) {
			continue
		}
		values := make([]string, len(s.Labels))
		id := s.Name
		for j, l := range s.Labels {
			values[j] = l.Value
			id += "\xff" + l.Value
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		if m := constMetric(fam.desc, s, values); m != nil {
			ch <- m
		}
	}
	clear(samples) // drop references to label slices until the next scrape
	c.buf = samples[:0]
}

func constMetric(desc *prometheus.Desc, s *filter.Sample, values []string) prometheus.Metric {
	var m prometheus.Metric
	var err error
	switch s.Kind {
	case filter.SampleCounter:
		m, err = prometheus.NewConstMetric(desc, prometheus.CounterValue, s.Value, values...)
	case filter.SampleGauge:
		m, err = prometheus.NewConstMetric(desc, prometheus.GaugeValue, s.Value, values...)
	case filter.SampleHistogram:
		if len(s.Bounds) != len(s.Buckets) {
			return nil
		}
		buckets := make(map[float64]uint64, len(s.Bounds))
		for i, b := range s.Bounds {
			if math.IsInf(b, +1) { // +Inf is the count, written by the library
				continue
			}
			buckets[b] = s.Buckets[i]
		}
		m, err = prometheus.NewConstHistogram(desc, s.Count, s.Value, buckets, values...)
	default:
		return nil
	}
	if err != nil {
		return nil
	}
	return m
}

// reservedName keeps collected series out of the gateway's own families,
// which the OTel exporter writes under wasmgate_ and the semantic
// conventions' http_ names: a clash would fail the whole scrape.
func reservedName(name string) bool {
	return strings.HasPrefix(name, "http_") ||
		(strings.HasPrefix(name, "wasmgate_") && !strings.HasPrefix(name, "wasmgate_plugin_"))
}

func sameKeys(keys []string, labels []filter.Label) bool {
	if len(keys) != len(labels) {
		return false
	}
	for i, l := range labels {
		if keys[i] != l.Key {
			return false
		}
	}
	return true
}

// validMetricName is Prometheus's [a-zA-Z_:][a-zA-Z0-9_:]*.
func validMetricName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c == ':' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// validLabels: each [a-zA-Z_][a-zA-Z0-9_]*, not starting with __, no
// repeats, and none a histogram's own le.
func validLabels(keys []string) bool {
	for i, k := range keys {
		if k == "" || strings.HasPrefix(k, "__") || k == "le" || slices.Contains(keys[:i], k) {
			return false
		}
		for j := 0; j < len(k); j++ {
			c := k[j]
			if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || j > 0 && '0' <= c && c <= '9' {
				continue
			}
			return false
		}
	}
	return true
}

var _ filter.CollectorMeter = (*Meters)(nil)
