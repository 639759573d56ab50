package conformance

// Go guests built with our SDK (guests/, a module of its own; each
// guests/NAME/NAME.wasm is committed, rebuilt by `make plugins`), run
// through the real binary. Each test names the Envoy behaviour it checks.

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wasmgate/wasmgate/test/internal/gatewaytest"
)

func guest(name string) string {
	p, err := filepath.Abs(filepath.Join("guests", name, name+".wasm"))
	if err != nil {
		panic(err)
	}
	return p
}

func okUpstream(t *testing.T) *httptest.Server {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "upstream")
	}))
	t.Cleanup(up.Close)
	return up
}

const sharedCounterConfig = `
listeners: [{ address: "{{.listen}}" }]
admin: { address: "{{.admin}}" }
upstreams:
  backend: { targets: [{ url: "{{.up}}" }] }
plugins:
  counter: { source: "{{.wasm}}", limits: { instances: 4 } }
routes:
  - name: all
    match: { path: "/{rest...}" }
    filters: [{ wasm: counter }]
    upstream: backend
{{.extra}}
`

// Envoy rule: every worker's VM is started (proxy_on_vm_start) when the
// config loads, before traffic, and shared data is one store per vm_id
// across those VMs (proxy_get/set_shared_data with CAS). The guest resets
// its counter in OnVMStart, as Envoy filters do; a VM started under
// traffic would reset what the others counted. A reload that keeps the
// plugin keeps its VMs, and so the count.
func TestGoGuestSharedCounter(t *testing.T) {
	up := okUpstream(t)
	g := gatewaytest.Start(t, sharedCounterConfig, gatewaytest.Vars{"up": up.URL, "wasm": guest("sharedcounter"), "extra": ""}, gatewaytest.Options{})
	const workers, each = 16, 25
	send := func() {
		var wg sync.WaitGroup
		var failed atomic.Int32
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					resp, err := g.Client.Get(g.URL("/x"))
					if err != nil {
						failed.Add(1)
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						failed.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		if n := failed.Load(); n > 0 {
			t.Fatalf("%d requests failed", n)
		}
	}
	count := func() string {
		t.Helper()
		resp, body := g.Get("/count")
		if resp.StatusCode != 200 {
			t.Fatalf("/count: %d %s", resp.StatusCode, body)
		}
		return string(body)
	}
	send()
	if got, want := count(), strconv.Itoa(workers*each); got != want {
		t.Fatalf("count after %d concurrent requests: %s, want %s", workers*each, got, want)
	}
	// A reload that leaves the plugin as it was keeps its instances.
	gen := g.Status().Generation
	g.WriteConfig(sharedCounterConfig, gatewaytest.Vars{"extra": "  - { name: other, match: { path: /other }, respond: { body: other } }"})
	if code, body := g.Reload(); code != 200 {
		t.Fatalf("reload: %d %s", code, body)
	}
	g.WaitGeneration(gen)
	send()
	if got, want := count(), strconv.Itoa(2*workers*each); got != want {
		t.Fatalf("count after a reload that keeps the plugin: %s, want %s", got, want)
	}
}

const guestMetricsConfig = `
listeners: [{ address: "{{.listen}}" }]
admin: { address: "{{.admin}}" }
observability: { metrics: { prometheus: true } }
plugins:
  gm: { source: "{{.wasm}}", limits: { instances: 2 } }
routes:
  - name: all
    match: { path: "/{rest...}" }
    filters: [{ wasm: gm }]
    respond: { body: ok }
`

// Envoy rule: metrics a filter defines with proxy_define_metric are stats
// of the proxy, exported with the others (Envoy's /stats/prometheus), with
// tags extracted from the name (Envoy's stats_tags; Istio's
// "key=.=value;.;" form). Ours: wasmgate_plugin_<name> with a plugin label
// (guestmetric.Series), counters with _total, histograms with Envoy's
// default buckets.
func TestGoGuestMetricsOnPrometheus(t *testing.T) {
	g := gatewaytest.Start(t, guestMetricsConfig, gatewaytest.Vars{"wasm": guest("guestmetrics")}, gatewaytest.Options{})
	for _, h := range [][2]string{{"5", "3"}, {"-2", "30"}, {"4", "3000"}} {
		req, _ := http.NewRequest("GET", g.URL("/x"), nil)
		req.Header.Set("X-Gauge", h[0])
		req.Header.Set("X-Observe", h[1])
		if resp, body := g.Do(req); resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	}
	resp, body := g.AdminDo(mustRequest(t, "GET", g.AdminURL("/metrics")))
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, body)
	}
	samples := parseProm(string(body))
	for _, want := range []struct {
		series string
		value  float64
	}{
		{`wasmgate_plugin_requests_total{plugin="gm",reporter="gateway"}`, 3},
		{`wasmgate_plugin_queue_level{plugin="gm"}`, 7},
		{`wasmgate_plugin_observed_size_count{plugin="gm",reporter="gateway"}`, 3},
		{`wasmgate_plugin_observed_size_sum{plugin="gm",reporter="gateway"}`, 3033},
		{`wasmgate_plugin_observed_size_bucket{le="5",plugin="gm",reporter="gateway"}`, 1},
		{`wasmgate_plugin_observed_size_bucket{le="50",plugin="gm",reporter="gateway"}`, 2},
		{`wasmgate_plugin_observed_size_bucket{le="2500",plugin="gm",reporter="gateway"}`, 2},
		{`wasmgate_plugin_observed_size_bucket{le="5000",plugin="gm",reporter="gateway"}`, 3},
		{`wasmgate_plugin_observed_size_bucket{le="+Inf",plugin="gm",reporter="gateway"}`, 3},
	} {
		got, ok := samples[want.series]
		if !ok || got != want.value {
			t.Errorf("%s = %v (present %v), want %v", want.series, got, ok, want.value)
		}
	}
	for _, typ := range []string{"# TYPE wasmgate_plugin_requests_total counter", "# TYPE wasmgate_plugin_queue_level gauge",
		"# TYPE wasmgate_plugin_observed_size histogram"} {
		if !strings.Contains(string(body), typ) {
			t.Errorf("/metrics lacks %q", typ)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", grepLines(string(body), "wasmgate_plugin_"))
	}
}

// parseProm reads the Prometheus text format into series (labels sorted by
// name, as written) and values.
func parseProm(text string) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[sortLabels(line[:i])] = v
	}
	return out
}

func sortLabels(series string) string {
	open := strings.IndexByte(series, '{')
	if open < 0 || !strings.HasSuffix(series, "}") {
		return series
	}
	parts := strings.Split(series[open+1:len(series)-1], ",")
	for i := 1; i < len(parts); i++ {
		for j := i; j > 0 && parts[j] < parts[j-1]; j-- {
			parts[j], parts[j-1] = parts[j-1], parts[j]
		}
	}
	return series[:open] + "{" + strings.Join(parts, ",") + "}"
}

func grepLines(text, sub string) string {
	var b strings.Builder
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

const calloutsConfig = `
listeners: [{ address: "{{.listen}}" }]
admin: { address: "{{.admin}}" }
upstreams:
  backend: { targets: [{ url: "{{.up}}" }] }
plugins:
  co: { source: "{{.wasm}}", callouts: [backend], limits: { instances: 2, callout_timeout: 3s } }
routes:
  - name: api
    match: { path: /api }
    filters: [{ wasm: co }]
    upstream: backend
`

// Envoy rules for proxy_http_call: an empty :authority is accepted and the
// call carries the cluster's host; several calls dispatched from one
// callback are all answered (each to proxy_on_http_call_response); and a
// call dispatched from a callback that returned Continue does not hold the
// stream, which proceeds to its upstream while the call is in flight.
func TestGoGuestTenParallelCallouts(t *testing.T) {
	var slowInFlight atomic.Bool
	slowArrived := make(chan struct{}, 1)
	release := make(chan struct{})
	var releaseOnce sync.Once
	var apiSawSlowInFlight atomic.Bool
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/echo/"):
			fmt.Fprintf(w, "%s@%s", strings.TrimPrefix(r.URL.Path, "/echo/"), r.Host)
		case r.URL.Path == "/slow":
			slowInFlight.Store(true)
			defer slowInFlight.Store(false)
			slowArrived <- struct{}{}
			select { // held until the main request has reached us, or the callout gives up
			case <-release:
			case <-r.Context().Done():
			}
		case r.URL.Path == "/api":
			if r.Header.Get("X-Mode") == "continue" {
				// The callout was dispatched before the request went on;
				// wait for it to arrive, then see whether it is still held.
				select {
				case <-slowArrived:
				case <-r.Context().Done():
					return
				}
				apiSawSlowInFlight.Store(slowInFlight.Load())
				releaseOnce.Do(func() { close(release) })
			}
			w.Header().Set("X-Got-Callouts", r.Header.Get("X-Callouts"))
			w.Header().Set("X-Got-Statuses", r.Header.Get("X-Callout-Statuses"))
			w.Header().Set("X-Got-Bodies", r.Header.Get("X-Callout-Bodies"))
			io.WriteString(w, "api")
		}
	}))
	t.Cleanup(up.Close)
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	g := gatewaytest.Start(t, calloutsConfig, gatewaytest.Vars{"up": up.URL, "wasm": guest("callouts")}, gatewaytest.Options{})
	upHost := strings.TrimPrefix(up.URL, "http://")

	t.Run("ten parallel, empty authority", func(t *testing.T) {
		resp, body := g.Get("/api")
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		if got := resp.Header.Get("X-Got-Callouts"); got != "10" {
			t.Fatalf("callouts answered: %q, want 10", got)
		}
		if got := resp.Header.Get("X-Got-Statuses"); got != strings.TrimSuffix(strings.Repeat("200,", 10), ",") {
			t.Errorf("statuses: %s", got)
		}
		bodies := strings.Split(resp.Header.Get("X-Got-Bodies"), ",")
		seen := map[string]bool{}
		for _, b := range bodies {
			i, host, _ := strings.Cut(b, "@")
			seen[i] = true
			if host != upHost {
				t.Errorf("callout %s sent Host %q, want the upstream's %q", i, host, upHost)
			}
		}
		if len(seen) != 10 {
			t.Errorf("distinct callouts answered: %v", bodies)
		}
	})

	t.Run("continue does not hold the request", func(t *testing.T) {
		req := mustRequest(t, "GET", g.URL("/api"))
		req.Header.Set("X-Mode", "continue")
		resp, body := g.Do(req)
		if resp.StatusCode != 200 || string(body) != "api" {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		if !apiSawSlowInFlight.Load() {
			t.Error("the request reached its upstream only after its callout had ended: the Continue was held")
		}
	})
}
