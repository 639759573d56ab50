package observe

import (
	"net/http"
	"strings"
	"testing"

	_ "github.com/wasmgate/wasmgate/filters/ipfilter"
)

// Upstream state (health per target, ejections, breaker, refused retries),
// auth failures and the admin API's own requests are read at scrape time;
// /readyz follows the upstreams admin.readiness requires.
func TestStateMetricsAndReadiness(t *testing.T) {
	up, _ := upstream(t)
	g, base, _ := start(t, `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin:
  address: "127.0.0.1:0"
  readiness: { require_healthy_upstreams: [users, down] }
observability:
  metrics: { prometheus: true }
upstreams:
  users: { targets: [{ url: `+yamlQuote(up.URL)+` }] }
  down:
    targets: [{ url: "http://127.0.0.1:1" }]
    health: { passive: { failures: 1, eject: 1h, max_eject: 1h } }
    circuit_breaker: { error_ratio: 50, min_requests: 1 }
routes:
  - { name: user, match: { path: "/users/{id}" }, upstream: users }
  - { name: broken, match: { path: /broken }, upstream: down }
  - { name: private, match: { path: /private }, filters: [ip_filter: { deny: [127.0.0.0/8] }], upstream: users }
`)
	admin := "http://" + g.AdminAddr().String()
	readyz := func() int {
		t.Helper()
		resp, err := http.Get(admin + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := readyz(); code != 200 {
		t.Fatalf("readyz %d before any failure, want 200", code)
	}
	mfs := scrape(t, admin)
	if v := series(t, mfs, "wasmgate_upstream_target_healthy", map[string]string{"upstream": "down", "target": "127.0.0.1:1"}).GetGauge().GetValue(); v != 1 {
		t.Errorf("down's target healthy = %v before any failure, want 1", v)
	}
	if v := series(t, mfs, "wasmgate_upstream_circuit_breaker_state", map[string]string{"upstream": "down"}).GetGauge().GetValue(); v != 0 {
		t.Errorf("breaker = %v before any failure, want 0 (closed)", v)
	}

	// Registered at zero when the route was built, before any request.
	deniedBefore := series(t, mfs, "wasmgate_auth_failures_total", map[string]string{"http_route": "private", "filter": "ip_filter", "reason": "denied"}).GetCounter().GetValue()
	do(t, "GET", base+"/users/1")
	do(t, "GET", base+"/broken") // connect failure: ejected, breaker opens
	do(t, "GET", base+"/private")
	do(t, "GET", base+"/private")

	if code := readyz(); code != 503 {
		t.Errorf("readyz %d with the required upstream down's only target ejected, want 503", code)
	}
	mfs = scrape(t, admin)
	upHost := strings.TrimPrefix(up.URL, "http://")
	gauges := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"wasmgate_upstream_target_healthy", map[string]string{"upstream": "down", "target": "127.0.0.1:1"}, 0},
		{"wasmgate_upstream_target_healthy", map[string]string{"upstream": "users", "target": upHost}, 1},
		{"wasmgate_upstream_circuit_breaker_state", map[string]string{"upstream": "down"}, 2},
	}
	for _, c := range gauges {
		if v := series(t, mfs, c.name, c.labels).GetGauge().GetValue(); v != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
	counters := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"wasmgate_upstream_ejections_total", map[string]string{"upstream": "down", "target": "127.0.0.1:1"}, 1},
		{"wasmgate_upstream_ejections_total", map[string]string{"upstream": "users", "target": upHost}, 0},
		{"wasmgate_upstream_retries_refused_total", map[string]string{"upstream": "down"}, 0},
		{"wasmgate_auth_failures_total", map[string]string{"http_route": "private", "filter": "ip_filter", "reason": "denied"}, deniedBefore + 2},
		{"wasmgate_admin_requests_total", map[string]string{"endpoint": "readyz", "http_response_status_code": "200"}, 1},
		{"wasmgate_admin_requests_total", map[string]string{"endpoint": "readyz", "http_response_status_code": "503"}, 1},
		{"wasmgate_admin_requests_total", map[string]string{"endpoint": "metrics", "http_response_status_code": "200"}, 1},
	}
	for _, c := range counters {
		if v := series(t, mfs, c.name, c.labels).GetCounter().GetValue(); v != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
	// A filter's counter is kept by the meter, not by the snapshot that
	// built the filter: a reload rebuilds ip_filter and its count goes on.
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	do(t, "GET", base+"/private")
	denied := series(t, scrape(t, admin), "wasmgate_auth_failures_total", map[string]string{"http_route": "private", "filter": "ip_filter", "reason": "denied"})
	if v := denied.GetCounter().GetValue(); v != deniedBefore+3 {
		t.Errorf("ip_filter denials = %v after a reload, want %v", v, deniedBefore+3)
	}
	if _, ok := mfs["wasmgate_upstream_circuit_breaker_state"]; ok {
		for _, m := range mfs["wasmgate_upstream_circuit_breaker_state"].Metric {
			for _, l := range m.Label {
				if l.GetName() == "upstream" && l.GetValue() == "users" {
					t.Error("a breaker state for users, which has no circuit breaker")
				}
			}
		}
	}
}
