package observe

import (
	"crypto/sha256"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func metricsConfig(upstreamURL, extra string) string {
	return `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "127.0.0.1:0" }
observability:
  metrics: { prometheus: true }
upstreams:
  users: { targets: [{ url: ` + yamlQuote(upstreamURL) + ` }] }
  down: { targets: [{ url: "http://127.0.0.1:1" }] }
routes:
  - { name: user, match: { path: "/users/{id}" }, upstream: users }
  - { name: admin, match: { prefix: /admin }, filters: [observe_test_deny: {}], upstream: users }
  - { name: broken, match: { path: /broken }, upstream: down }
` + extra
}

// scrape fetches and parses the admin listener's /metrics.
func scrape(t *testing.T, adminURL string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(adminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// series finds the one series of family name whose labels include want.
func series(t *testing.T, mfs map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	mf := mfs[name]
	if mf == nil {
		names := make([]string, 0, len(mfs))
		for n := range mfs {
			names = append(names, n)
		}
		sort.Strings(names)
		t.Fatalf("no metric %s; have %s", name, strings.Join(names, " "))
	}
	var found *dto.Metric
	for _, m := range mf.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		ok := true
		for k, v := range want {
			if labels[k] != v {
				ok = false
			}
		}
		if ok {
			if found != nil {
				t.Fatalf("%s%v matches more than one series", name, want)
			}
			found = m
		}
	}
	if found == nil {
		t.Fatalf("%s has no series with %v", name, want)
	}
	return found
}

func TestMetricsAfterKnownTraffic(t *testing.T) {
	up, _ := upstream(t)
	g, base, file := start(t, metricsConfig(up.URL, ""))
	admin := "http://" + g.AdminAddr().String()

	for range 3 {
		do(t, "GET", base+"/users/7")
	}
	do(t, "POST", base+"/users/7")
	for range 2 {
		do(t, "GET", base+"/nowhere")
	}
	do(t, "GET", base+"/admin/x")
	do(t, "GET", base+"/broken")

	// A rejected reload, then an accepted one.
	good, _ := os.ReadFile(file)
	if err := os.WriteFile(file, []byte("listeners: [}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if g.Reload() == nil {
		t.Fatal("a broken config reloaded")
	}
	if err := os.WriteFile(file, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	do(t, "GET", base+"/users/8") // counted across the reload

	mfs := scrape(t, admin)
	count := func(labels map[string]string) uint64 {
		return series(t, mfs, "http_server_request_duration_seconds", labels).GetHistogram().GetSampleCount()
	}
	checks := []struct {
		labels map[string]string
		want   uint64
	}{
		{map[string]string{"http_route": "user", "http_request_method": "GET", "http_response_status_class": "2xx"}, 4},
		{map[string]string{"http_route": "user", "http_request_method": "POST", "http_response_status_class": "2xx"}, 1},
		{map[string]string{"http_route": "", "http_request_method": "GET", "http_response_status_class": "4xx"}, 2},
		{map[string]string{"http_route": "admin", "http_request_method": "GET", "http_response_status_class": "4xx"}, 1},
		{map[string]string{"http_route": "broken", "http_request_method": "GET", "http_response_status_class": "5xx"}, 1},
	}
	for _, c := range checks {
		if got := count(c.labels); got != c.want {
			t.Errorf("requests %v = %d, want %d", c.labels, got, c.want)
		}
	}
	// Every 2xx on the user route answered "hello".
	size := series(t, mfs, "http_server_response_body_size_bytes", map[string]string{
		"http_route": "user", "http_request_method": "GET", "http_response_status_class": "2xx"}).GetHistogram()
	if size.GetSampleSum() != 4*5 {
		t.Errorf("response bytes on user GET 2xx = %v, want 20", size.GetSampleSum())
	}
	if v := series(t, mfs, "http_server_active_requests", nil).GetGauge().GetValue(); v != 0 {
		t.Errorf("active requests = %v after all finished", v)
	}
	errs := series(t, mfs, "wasmgate_upstream_attempt_errors_total", map[string]string{
		"upstream": "down", "target": "127.0.0.1:1", "error_type": "connect"})
	if v := errs.GetCounter().GetValue(); v != 1 {
		t.Errorf("connect errors on down = %v, want 1", v)
	}
	upHost := strings.TrimPrefix(up.URL, "http://")
	attempts := series(t, mfs, "wasmgate_upstream_attempt_duration_seconds", map[string]string{"upstream": "users", "target": upHost})
	if n := attempts.GetHistogram().GetSampleCount(); n != 5 {
		t.Errorf("attempts to users = %d, want 5", n)
	}
	for result, want := range map[string]float64{"success": 1, "failure": 1} {
		if v := series(t, mfs, "wasmgate_config_reloads_total", map[string]string{"result": result}).GetCounter().GetValue(); v != want {
			t.Errorf("reloads %s = %v, want %v", result, v, want)
		}
	}
	sum := sha256.Sum256(good)
	var hash uint64
	for _, b := range sum[:6] {
		hash = hash<<8 | uint64(b)
	}
	if v := series(t, mfs, "wasmgate_config_hash", nil).GetGauge().GetValue(); v != float64(hash) {
		t.Errorf("config hash = %v, want %v", v, float64(hash))
	}
}

// With metrics off, the admin listener has no /metrics.
func TestNoMetricsWhenOff(t *testing.T) {
	up, _ := upstream(t)
	cfg := strings.Replace(metricsConfig(up.URL, ""), "metrics: { prometheus: true }", "access_log: { path: "+yamlQuote(t.TempDir()+"/a.log")+" }", 1)
	g, _, _ := start(t, cfg)
	resp, err := http.Get("http://" + g.AdminAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics with metrics off: %s, want 404", resp.Status)
	}
}
