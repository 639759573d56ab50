package observe

import (
	"encoding/json"
	"net/http"
	"os"
	"testing"
)

// The admin API and the metrics read one snapshot of upstream state, so they
// cannot tell two stories: a target's ejection count is the same in both
// after a reload rebuilt its upstream (the backoff count behind the next
// ejection's length restarts then; the ejections do not), and a breaker
// state is shown by both or by neither (an upstream with only limits has no
// error-ratio breaker to be in a state).
func TestAdminAndMetricsAgreeOnUpstreams(t *testing.T) {
	up, _ := upstream(t)
	cfg := func(balancer string) string {
		return `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "127.0.0.1:0" }
observability:
  metrics: { prometheus: true }
upstreams:
  down:
    balancer: ` + balancer + `
    targets: [{ url: "http://127.0.0.1:1" }]
    health: { passive: { failures: 1, eject: 1h, max_eject: 1h } }
    circuit_breaker: { error_ratio: 50, min_requests: 1 }
  limited:
    targets: [{ url: ` + yamlQuote(up.URL) + ` }]
    circuit_breaker: { max_requests: 100 }
routes:
  - { name: broken, match: { path: /broken }, upstream: down }
  - { name: ok, match: { path: /ok }, upstream: limited }
`
	}
	g, base, file := start(t, cfg("round_robin"))
	admin := "http://" + g.AdminAddr().String()
	do(t, "GET", base+"/broken") // connect failure: ejected, breaker opens
	do(t, "GET", base+"/ok")
	// A new balancer rebuilds the upstream; its target keeps its history.
	if err := os.WriteFile(file, []byte(cfg("least_conn")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}

	resp, err := http.Get(admin + "/upstreams")
	if err != nil {
		t.Fatal(err)
	}
	var ups []struct {
		Name    string `json:"name"`
		Breaker *struct {
			State string `json:"state"`
		} `json:"circuit_breaker"`
		Targets []struct {
			Host      string `json:"host"`
			Available bool   `json:"available"`
			Ejections uint64 `json:"ejections"`
		} `json:"targets"`
	}
	err = json.NewDecoder(resp.Body).Decode(&ups)
	resp.Body.Close()
	if err != nil || len(ups) != 2 {
		t.Fatalf("/upstreams: %v, %+v", err, ups)
	}
	mfs := scrape(t, admin)
	breakerSeries := map[string]float64{}
	if mf := mfs["wasmgate_upstream_circuit_breaker_state"]; mf != nil {
		for _, m := range mf.Metric {
			for _, l := range m.Label {
				if l.GetName() == "upstream" {
					breakerSeries[l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
	}
	for _, u := range ups {
		state := ""
		if u.Breaker != nil {
			state = u.Breaker.State
		}
		metric, hasMetric := breakerSeries[u.Name]
		switch want, tripping := map[string]float64{"closed": 0, "half-open": 1, "open": 2}[state]; {
		case tripping && (!hasMetric || metric != want):
			t.Errorf("%s: admin breaker %q, metric %v (present %v); want %v", u.Name, state, metric, hasMetric, want)
		case !tripping && hasMetric:
			t.Errorf("%s: admin breaker %q (no error-ratio breaker), yet a breaker metric %v", u.Name, state, metric)
		}
		for _, tg := range u.Targets {
			labels := map[string]string{"upstream": u.Name, "target": tg.Host}
			if n := series(t, mfs, "wasmgate_upstream_ejections_total", labels).GetCounter().GetValue(); uint64(n) != tg.Ejections {
				t.Errorf("%s: admin shows %d ejections, metrics %v", tg.Host, tg.Ejections, n)
			}
			healthy := series(t, mfs, "wasmgate_upstream_target_healthy", labels).GetGauge().GetValue() == 1
			if healthy != tg.Available {
				t.Errorf("%s: admin available %v, metrics healthy %v", tg.Host, tg.Available, healthy)
			}
		}
	}
	// The history that must survive the rebuild, so the test cannot pass
	// by both sides reading zero.
	if ups[0].Name != "down" || ups[0].Targets[0].Ejections != 1 {
		t.Errorf("down's target after the rebuild: %+v, want 1 ejection carried over", ups[0].Targets)
	}
	if ups[1].Name != "limited" || ups[1].Breaker == nil || ups[1].Breaker.State != "off" {
		t.Errorf("limited's breaker %+v, want state off: it has limits, no error ratio", ups[1].Breaker)
	}
}
