package concurrency

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/testutil"
)

func TestMaxInFlightReleasedOnDone(t *testing.T) {
	c := &Config{Name: "c", Max: 2, Consumers: map[string]int{"gold": 3}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	ff, err := c.Build(&filter.BuildContext{Route: "r"})
	if err != nil {
		t.Fatal(err)
	}
	f := ff.(*Filter)
	mk := func() *filter.Exchange {
		return &filter.Exchange{Request: httptest.NewRequest("GET", "/", nil), ClientIP: netip.MustParseAddr("192.0.2.1")}
	}
	a, b, over := mk(), mk(), mk()
	if f.OnRequest(a) != nil || f.OnRequest(b) != nil {
		t.Fatal("two requests within max refused")
	}
	r := f.OnRequest(over)
	if r == nil || r.Status != 429 || r.Header.Get("Retry-After") != "1" {
		t.Fatalf("third in flight: %+v, want 429 with Retry-After", r)
	}
	over.Response = r
	f.OnResponse(over)
	if got := r.Header.Get("RateLimit"); got != `"c";r=0` {
		t.Errorf("RateLimit on refusal %q", got)
	}
	if got := r.Header.Get("RateLimit-Policy"); got != `"c";q=2;qu="concurrent-requests"` {
		t.Errorf("RateLimit-Policy %q", got)
	}
	f.OnDone(over) // a refused request holds nothing
	if f.InFlight() != 2 {
		t.Fatalf("in flight %d, want 2", f.InFlight())
	}
	a.Response = &filter.Response{Status: 200, Header: http.Header{}}
	f.OnResponse(a)
	if got := a.Response.Header.Get("RateLimit"); got != `"c";r=1` {
		t.Errorf("RateLimit for the first request %q, want one slot left", got)
	}
	f.OnDone(a)
	if f.OnRequest(mk()) != nil {
		t.Error("a released slot must admit the next request")
	}
	gold := mk()
	gold.Consumer = &filter.Consumer{Name: "gold"}
	if f.OnRequest(gold) != nil {
		t.Error("consumer override max 3 must admit a third")
	}
	if n := f.counts.total(); n != 3 {
		t.Errorf("total %d", n)
	}
}

func BenchmarkAcquireRelease(b *testing.B) {
	ff, _ := (&Config{Max: 1 << 20}).Build(&filter.BuildContext{Route: "r"})
	f := ff.(*Filter)
	x := &filter.Exchange{Request: httptest.NewRequest("GET", "/", nil), ClientIP: netip.MustParseAddr("192.0.2.1")}
	b.ReportAllocs()
	for b.Loop() {
		f.OnRequest(x)
		f.OnDone(x)
	}
}

// With metrics on, decisions are counted as the rate limits' are.
func TestDecisionMetrics(t *testing.T) {
	f, scrape := testutil.BuildWithMetrics(t, "concurrency", `{name: c, max: 1}`, "")
	mk := func() *filter.Exchange {
		return &filter.Exchange{Request: httptest.NewRequest("GET", "/", nil), ClientIP: netip.MustParseAddr("192.0.2.1")}
	}
	held := mk()
	f.OnRequest(held)
	f.OnRequest(mk())
	f.OnRequest(mk())
	testutil.HasSamples(t, scrape(),
		`wasmgate_ratelimit_decisions_total{http_route="r",outcome="allowed",policy="c"} 1`,
		`wasmgate_ratelimit_decisions_total{http_route="r",outcome="limited",policy="c"} 2`)
}
