package priority

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/testutil"
)

// TestLowerLevelsShedFirst fills one group from two routes and checks each
// level stops at its share of capacity: low at 50%, critical at 100%.
func TestLowerLevelsShedFirst(t *testing.T) {
	g := &gate{}
	build := func(level string) *Filter {
		c := &Config{Level: level, Capacity: 10}
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		f, err := c.Build(&filter.BuildContext{Route: level})
		if err != nil {
			t.Fatal(err)
		}
		f.(*Filter).gate = g // one group, as Keep would share it
		return f.(*Filter)
	}
	low, critical := build("low"), build("critical")
	mk := func() *filter.Exchange { return &filter.Exchange{Request: httptest.NewRequest("GET", "/", nil)} }
	var held []*filter.Exchange
	for range 5 {
		x := mk()
		if r := low.OnRequest(x); r != nil {
			t.Fatalf("low refused at %d in flight, want admitted under 50%%", g.inflight.Load())
		}
		held = append(held, x)
	}
	r := low.OnRequest(mk())
	if r == nil || r.Status != 503 || r.Header.Get("Retry-After") != "1" {
		t.Fatalf("low at 50%% of capacity: %+v, want 503 with Retry-After", r)
	}
	for range 5 {
		if r := critical.OnRequest(mk()); r != nil {
			t.Fatalf("critical refused at %d in flight, want admitted up to capacity", g.inflight.Load())
		}
	}
	if r := critical.OnRequest(mk()); r == nil {
		t.Fatal("critical admitted past capacity")
	}
	vip := mk()
	vip.Consumer = &filter.Consumer{Name: "v", Metadata: map[string]string{"priority": "critical"}}
	for _, x := range held {
		low.OnDone(x)
	}
	if g.inflight.Load() != 5 {
		t.Fatalf("in flight %d after releasing 5 of 10, want 5", g.inflight.Load())
	}
	if r := low.OnRequest(vip); r != nil {
		t.Error("a consumer with priority: critical on a low route must use the critical share")
	}
}

func TestConfigErrors(t *testing.T) {
	err := (&Config{Level: "urgent"}).Validate()
	if err == nil || err.Error() == "" {
		t.Fatal("want errors")
	}
	for _, want := range []string{`level: "urgent" is not valid; valid values: low, normal, high, critical`, "capacity: a positive"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
}

// With metrics on, admissions and sheds are counted per group.
func TestDecisionMetrics(t *testing.T) {
	f, scrape := testutil.BuildWithMetrics(t, "priority", `{group: api, level: low, capacity: 2}`, "")
	for range 3 { // low may use 50% of 2: one admitted, two shed
		f.OnRequest(&filter.Exchange{Request: httptest.NewRequest("GET", "/", nil)})
	}
	testutil.HasSamples(t, scrape(),
		`wasmgate_ratelimit_decisions_total{http_route="r",outcome="allowed",policy="priority:api"} 1`,
		`wasmgate_ratelimit_decisions_total{http_route="r",outcome="limited",policy="priority:api"} 2`)
}
