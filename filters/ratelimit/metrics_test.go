package ratelimit

import (
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/testutil"
	"github.com/wasmgate/wasmgate/observe"
)

// Decisions are counted by route, policy and outcome when metrics are on.
func TestDecisionMetrics(t *testing.T) {
	bc := &filter.BuildContext{
		Route: "r", Logger: slog.New(slog.DiscardHandler), Config: &config.Config{},
		Keeper: testutil.NewKeeper(t),
	}
	config.SetSection(bc.Config, "observability.metrics", &observe.Metrics{Prometheus: true})
	bc.Meter = observe.From(bc) // as the gateway does with metrics on
	c := &Config{Name: "api", Key: mustKey(t, "client_ip"), Rate: Rate{Count: 1, Period: time.Second}, Burst: 2}
	f, err := c.Build(bc)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		roundTrip(f.(*Filter), exchange("10.0.0.1"))
	}
	w := httptest.NewRecorder()
	observe.From(bc).Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`wasmgate_ratelimit_decisions_total{http_route="r",outcome="allowed",policy="api"} 2`,
		`wasmgate_ratelimit_decisions_total{http_route="r",outcome="limited",policy="api"} 3`,
	} {
		if !strings.Contains(w.Body.String(), want+"\n") {
			t.Errorf("no %s in\n%s", want, grep(w.Body.String(), "ratelimit"))
		}
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
