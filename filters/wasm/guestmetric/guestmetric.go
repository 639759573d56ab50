// Package guestmetric holds the metrics Wasm plugins define themselves
// (proxy_define_metric), process-wide, by plugin name, so that exporters
// can read them without importing the Wasm host: filters/wasm writes here,
// and an exporter reads Snapshot. A leaf package, so no import cycles.
package guestmetric

import (
	"slices"
	"sort"
	"sync"
	"sync/atomic"
)

// Kind is a metric's type, as proxy_define_metric numbers them.
type Kind uint32

const (
	Counter   Kind = 0 // monotonic; increments must not be negative
	Gauge     Kind = 1 // set (record) or moved (increment) freely
	Histogram Kind = 2 // observations: count and sum are kept
)

func (k Kind) String() string {
	switch k {
	case Counter:
		return "counter"
	case Gauge:
		return "gauge"
	case Histogram:
		return "histogram"
	}
	return "unknown"
}

// Metric is one plugin-defined metric's current value.
type Metric struct {
	Plugin string // the plugin's name under plugins:
	Name   string // as the guest defined it
	Kind   Kind
	Value  int64  // counter and gauge: the value; histogram: the sum of observations
	Count  uint64 // histogram: the number of observations; 0 otherwise
	// Buckets are a histogram's cumulative counts at or below each of
	// Bounds; nil otherwise.
	Buckets []uint64
}

// Bounds are the histograms' bucket upper bounds: Envoy's default
// histogram buckets, so dashboards built on Envoy's export read ours alike.
var Bounds = [...]float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000,
	10000, 30000, 60000, 300000, 600000, 1800000, 3600000}

// MaxPerPlugin bounds how many metrics one plugin may define.
const MaxPerPlugin = 1000

// Set is one plugin's metrics, shared by all its instances and kept across
// reloads while a plugin of that name is loaded.
type Set struct {
	plugin string
	refs   int // guarded by registry.mu

	mu      sync.RWMutex
	byName  map[string]uint32
	entries []*Entry // id-1
}

// Entry is one metric; its methods are safe for concurrent use.
type Entry struct {
	Name  string
	Kind  Kind
	value atomic.Int64
	count atomic.Uint64
	// buckets count a histogram's observations per bucket (not cumulative);
	// the last one is over every bound. Nil for counters and gauges.
	buckets []atomic.Uint64
}

// Add moves a counter or gauge.
func (e *Entry) Add(d int64) { e.value.Add(d) }

// Record sets a gauge or observes a histogram value.
func (e *Entry) Record(v int64) {
	if e.Kind == Histogram {
		i, _ := slices.BinarySearch(Bounds[:], float64(v)) // first bound >= v
		e.buckets[i].Add(1)
		e.value.Add(v)
		e.count.Add(1)
		return
	}
	e.value.Store(v)
}

// Value is a counter's or gauge's value, or a histogram's sum.
func (e *Entry) Value() int64 { return e.value.Load() }

var registry = struct {
	sync.Mutex
	sets map[string]*Set
}{sets: map[string]*Set{}}

// Acquire returns the plugin's set, creating it; Release when done.
func Acquire(plugin string) *Set {
	registry.Lock()
	defer registry.Unlock()
	s := registry.sets[plugin]
	if s == nil {
		s = &Set{plugin: plugin, byName: map[string]uint32{}}
		registry.sets[plugin] = s
	}
	s.refs++
	return s
}

// Release drops a reference; the last one forgets the plugin's metrics.
func (s *Set) Release() {
	registry.Lock()
	defer registry.Unlock()
	if s.refs--; s.refs == 0 && registry.sets[s.plugin] == s {
		delete(registry.sets, s.plugin)
	}
}

// Define returns the id of the metric name (1 and up), creating it. The same
// name and kind give the same id; the same name with another kind, or one
// metric too many, gives 0.
func (s *Set) Define(kind Kind, name string) uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.byName[name]; ok {
		if s.entries[id-1].Kind != kind {
			return 0
		}
		return id
	}
	if len(s.entries) >= MaxPerPlugin {
		return 0
	}
	e := &Entry{Name: name, Kind: kind}
	if kind == Histogram {
		e.buckets = make([]atomic.Uint64, len(Bounds)+1)
	}
	s.entries = append(s.entries, e)
	id := uint32(len(s.entries))
	s.byName[name] = id
	return id
}

// Get returns the metric with id, or nil.
func (s *Set) Get(id uint32) *Entry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if id == 0 || int(id) > len(s.entries) {
		return nil
	}
	return s.entries[id-1]
}

// Snapshot appends every loaded plugin's metrics to dst, sorted by plugin
// and name: what an exporter reads at each collection.
func Snapshot(dst []Metric) []Metric {
	registry.Lock()
	sets := make([]*Set, 0, len(registry.sets))
	for _, s := range registry.sets {
		sets = append(sets, s)
	}
	registry.Unlock()
	start := len(dst)
	for _, s := range sets {
		s.mu.RLock()
		for _, e := range s.entries {
			m := Metric{Plugin: s.plugin, Name: e.Name, Kind: e.Kind}
			if e.buckets != nil { // before the count, which Record moves last: no bucket exceeds it
				m.Buckets = make([]uint64, len(Bounds))
				var sum uint64
				for i := range Bounds {
					sum += e.buckets[i].Load()
					m.Buckets[i] = sum
				}
			}
			m.Count, m.Value = e.count.Load(), e.value.Load()
			dst = append(dst, m)
		}
		s.mu.RUnlock()
	}
	out := dst[start:]
	sort.Slice(out, func(i, j int) bool {
		if out[i].Plugin != out[j].Plugin {
			return out[i].Plugin < out[j].Plugin
		}
		return out[i].Name < out[j].Name
	})
	return dst
}
