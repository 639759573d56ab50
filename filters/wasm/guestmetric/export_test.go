package guestmetric

import (
	"reflect"
	"testing"

	"github.com/wasmgate/wasmgate/core/filter"
)

func TestSeries(t *testing.T) {
	for _, tc := range []struct {
		name   string
		kind   Kind
		want   string
		labels []filter.Label
	}{
		{"requests", Counter, "wasmgate_plugin_requests_total", nil},
		{"requests_total", Counter, "wasmgate_plugin_requests_total", nil},
		{"queue.depth", Gauge, "wasmgate_plugin_queue_depth", nil},
		{"9lives", Gauge, "wasmgate_plugin__9lives", nil},
		// The upstream Go SDK example's form.
		{"custom_header_value_counts_value=foo_reporter=wasmgosdk", Counter, "wasmgate_plugin_custom_header_value_counts_total",
			labels("reporter", "wasmgosdk", "value", "foo")},
		{"latency_route=a_b", Histogram, "wasmgate_plugin_latency", labels("route", "a_b")},
		// Istio's form.
		{"reporter=.=destination;.;response_code=.=200;.;istio_requests_total", Counter, "wasmgate_plugin_istio_requests_total",
			labels("reporter", "destination", "response_code", "200")},
		// A tag may not take the plugin label, nor repeat.
		{"x_plugin=evil_a=1_a=2", Gauge, "wasmgate_plugin_x", labels("a", "1")},
		{"=", Gauge, "wasmgate_plugin__", nil},
	} {
		name, got := Series("p", tc.name, tc.kind)
		want := append(labels("plugin", "p"), tc.labels...)
		if name != tc.want || !reflect.DeepEqual(got, want) {
			t.Errorf("Series(%q) = %s %v, want %s %v", tc.name, name, got, tc.want, want)
		}
	}
}

// A histogram's buckets are Envoy's bounds, cumulative, and never exceed
// its count.
func TestHistogramBuckets(t *testing.T) {
	s := Acquire("hist-test")
	defer s.Release()
	e := s.Get(s.Define(Histogram, "h"))
	for _, v := range []int64{0, 1, 7, 7, 5000000} {
		e.Record(v)
	}
	var m Metric
	for _, x := range Snapshot(nil) {
		if x.Plugin == "hist-test" {
			m = x
		}
	}
	if m.Count != 5 || m.Value != 5000015 {
		t.Fatalf("count %d sum %d", m.Count, m.Value)
	}
	// Bounds 0.5, 1, 5, 10, ...: 0 in the first, 1 in the second, 7 twice in
	// the fourth; 5000000 is over every bound.
	want := map[float64]uint64{0.5: 1, 1: 2, 5: 2, 10: 4, 3600000: 4}
	for i, b := range Bounds {
		if w, ok := want[b]; ok && m.Buckets[i] != w {
			t.Errorf("bucket le=%v: %d, want %d", b, m.Buckets[i], w)
		}
	}
}

func labels(kv ...string) []filter.Label {
	var out []filter.Label
	for i := 0; i < len(kv); i += 2 {
		out = append(out, filter.Label{Key: kv[i], Value: kv[i+1]})
	}
	return out
}
