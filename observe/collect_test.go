package observe

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/core/filter"
)

type sampleList []filter.Sample

func (l sampleList) Collect(dst []filter.Sample) []filter.Sample { return append(dst, l...) }

// Collected samples reach /metrics by their own names; what would break the
// scrape (a bad name, a family that disagrees, a repeat, the gateway's own
// names) is left out, and the rest still shows.
func TestCollectedMetrics(t *testing.T) {
	m, err := newMeters()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	l := func(kv ...string) []filter.Label {
		var out []filter.Label
		for i := 0; i < len(kv); i += 2 {
			out = append(out, filter.Label{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	m.Collect("test", sampleList{
		{Name: "wasmgate_plugin_hits_total", Help: "h", Kind: filter.SampleCounter, Labels: l("plugin", "a"), Value: 3},
		{Name: "wasmgate_plugin_hits_total", Help: "h", Kind: filter.SampleCounter, Labels: l("plugin", "a"), Value: 99}, // repeat
		{Name: "wasmgate_plugin_hits_total", Help: "h", Kind: filter.SampleGauge, Labels: l("plugin", "b"), Value: 99},   // another kind
		{Name: "wasmgate_plugin_hits_total", Help: "h", Kind: filter.SampleCounter, Labels: l("other", "b"), Value: 99},  // other keys
		{Name: "wasmgate_plugin_hits_total", Help: "h", Kind: filter.SampleCounter, Labels: l("plugin", "b"), Value: 4},
		{Name: "wasmgate_plugin_level", Help: "h", Kind: filter.SampleGauge, Labels: l("plugin", "a"), Value: -2},
		{Name: "bad name", Help: "h", Kind: filter.SampleGauge, Value: 1},
		{Name: "wasmgate_config_reloads_total", Help: "h", Kind: filter.SampleCounter, Value: 1}, // the gateway's own
		{Name: "wasmgate_plugin_badlabel", Help: "h", Kind: filter.SampleGauge, Labels: l("le", "1"), Value: 1},
		{Name: "wasmgate_plugin_size", Help: "h", Kind: filter.SampleHistogram, Labels: l("plugin", "a"),
			Value: 33, Count: 3, Bounds: []float64{1, 10, 100}, Buckets: []uint64{1, 2, 3}},
	})
	m.Collect("test", m.collected.by["test"]) // a reload registers again: replaced, not doubled
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	text := string(body)
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, text)
	}
	for _, want := range []string{
		`wasmgate_plugin_hits_total{plugin="a"} 3`,
		`wasmgate_plugin_hits_total{plugin="b"} 4`,
		`wasmgate_plugin_level{plugin="a"} -2`,
		`wasmgate_plugin_size_bucket{plugin="a",le="10"} 2`,
		`wasmgate_plugin_size_bucket{plugin="a",le="+Inf"} 3`,
		`wasmgate_plugin_size_sum{plugin="a"} 33`,
		`# TYPE wasmgate_plugin_size histogram`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, bad := range []string{" 99", "bad name", "wasmgate_plugin_badlabel", "wasmgate_config_reloads_total 1"} {
		if strings.Contains(text, bad) {
			t.Errorf("/metrics has %q", bad)
		}
	}
	if n := strings.Count(text, `wasmgate_plugin_hits_total{plugin="a"}`); n != 1 {
		t.Errorf("the series shows %d times", n)
	}
}
