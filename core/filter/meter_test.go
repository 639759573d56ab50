package filter

import "testing"

// Without a meter (metrics off, or a filter built in a unit test) a
// filter still gets instruments it can use unchecked on its hot path.
func TestMeterlessInstrumentsWork(t *testing.T) {
	bc := &BuildContext{Route: "r"}
	c := bc.Counter(Metric{Name: "x"}, Label{Key: "k", Value: "v"})
	if c == nil {
		t.Fatal("nil counter without a meter")
	}
	c.Inc()
	c.Add(2)
	if c.Load() != 3 {
		t.Errorf("count %d, want 3", c.Load())
	}
	h := bc.Histogram(Metric{Name: "y", Buckets: []float64{1}})
	if h == nil {
		t.Fatal("nil histogram without a meter")
	}
	h.Record(0.5)
	if n := testing.AllocsPerRun(100, func() { c.Inc(); h.Record(1) }); n != 0 {
		t.Errorf("recording allocates %v times", n)
	}
}
