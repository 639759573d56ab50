package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/wasmgate/wasmgate/test/internal/gatewaytest"
)

const observabilityConfig = head + `
observability:
  metrics: { prometheus: true }
  request_id: {}
  access_log: { format: json, path: "{{.log}}" }
upstreams:
  echo: { targets: [{ url: "{{.echo}}" }] }
routes:
  - name: items
    match: { prefix: /items }
    upstream: echo
  - name: gone
    match: { prefix: /gone }
    respond: { status: 410, body: "gone" }
`

// accessLine is the part of a JSON access-log line the test reads.
type accessLine struct {
	Time       string `json:"time"`
	RequestID  string `json:"request_id"`
	ClientIP   string `json:"client_ip"`
	Method     string `json:"method"`
	Path       string `json:"path"`
	Route      string `json:"route"`
	Status     int    `json:"status"`
	BytesIn    int64  `json:"bytes_in"`
	BytesOut   int64  `json:"bytes_out"`
	DurationUS *int64 `json:"duration_us"`
	Upstream   string `json:"upstream"`
	Target     string `json:"upstream_target"`
	Attempts   int    `json:"attempts"`
}

// Access-log lines and /metrics through the real binary: each request
// leaves one JSON line with its id, route, status, sizes and upstream
// target, and the Prometheus exposition parses and counts the requests by
// route and status class.
func TestAccessLogAndMetrics(t *testing.T) {
	needBinary(t)
	echo := newEcho(t, "echo")
	logFile := filepath.Join(t.TempDir(), "access.log")
	g := startGateway(t, observabilityConfig, vars{"echo": echo.URL, "log": logFile})

	const n = 7
	for i := range n {
		req := newRequest(t, http.MethodPost, g.URL(fmt.Sprintf("/items/%d", i)), strings.NewReader("hello"))
		req.Header.Set("X-Request-Id", fmt.Sprintf("e2e-req-%d", i))
		resp, body := g.Do(req)
		decodeSeen(t, resp.StatusCode, body)
		if got := resp.Header.Get("X-Request-Id"); got != fmt.Sprintf("e2e-req-%d", i) {
			t.Errorf("response X-Request-Id %q, want the client's", got)
		}
	}
	resp, _ := g.Get("/gone")
	if resp.StatusCode != 410 {
		t.Fatalf("/gone: %d", resp.StatusCode)
	}
	resp, _ = g.Get("/nowhere")
	if resp.StatusCode != 404 {
		t.Fatalf("/nowhere: %d", resp.StatusCode)
	}

	t.Run("access log", func(t *testing.T) {
		var lines []accessLine
		// The log is written by a buffered sink: wait for all the lines.
		if err := poll(15*time.Second, func() error {
			data, err := os.ReadFile(logFile)
			if err != nil {
				return err
			}
			lines = lines[:0]
			sc := bufio.NewScanner(bytes.NewReader(data))
			for sc.Scan() {
				var l accessLine
				if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
					return gatewaytest.Stop(fmt.Errorf("access-log line is not JSON: %v: %q", err, sc.Text()))
				}
				lines = append(lines, l)
			}
			if len(lines) < n+2 {
				return fmt.Errorf("%d lines so far", len(lines))
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(lines) != n+2 {
			t.Errorf("%d access-log lines, want %d (one per request)", len(lines), n+2)
		}
		for i, l := range lines[:n] {
			if l.RequestID != fmt.Sprintf("e2e-req-%d", i) || l.Method != "POST" || l.Path != fmt.Sprintf("/items/%d", i) ||
				l.Route != "items" || l.Status != 200 || l.BytesIn != 5 || l.BytesOut == 0 || l.DurationUS == nil ||
				l.Upstream != "echo" || l.Target != strings.TrimPrefix(echo.URL, "http://") && l.Target != echo.URL ||
				l.Attempts != 1 || l.ClientIP != "127.0.0.1" {
				t.Errorf("line %d: %+v, want POST /items/%d by 127.0.0.1 routed to echo (%s), 200, 5 bytes in, one attempt", i, l, i, echo.URL)
			}
			if _, err := time.Parse(time.RFC3339Nano, l.Time); err != nil {
				t.Errorf("line %d: time %q: %v", i, l.Time, err)
			}
		}
		if l := lines[n]; l.Route != "gone" || l.Status != 410 || l.Upstream != "" || l.RequestID == "" {
			t.Errorf("respond line: %+v, want route gone, 410, no upstream, a generated request id", l)
		}
		if l := lines[n+1]; l.Route != "" || l.Status != 404 || l.Path != "/nowhere" {
			t.Errorf("unrouted line: %+v, want no route, 404", l)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		resp, body := g.AdminDo(newRequest(t, http.MethodGet, g.AdminURL("/metrics"), nil))
		if resp.StatusCode != 200 {
			t.Fatalf("/metrics: %d", resp.StatusCode)
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("/metrics does not parse: %v", err)
		}
		count := func(name string, labels map[string]string) (float64, bool) {
			f, ok := fams[name]
			if !ok {
				return 0, false
			}
			var sum float64
			found := false
		next:
			for _, m := range f.GetMetric() {
				have := map[string]string{}
				for _, lp := range m.GetLabel() {
					have[lp.GetName()] = lp.GetValue()
				}
				for k, v := range labels {
					if have[k] != v {
						continue next
					}
				}
				found = true
				sum += sampleValue(f.GetType(), m)
			}
			return sum, found
		}
		for _, c := range []struct {
			name   string
			labels map[string]string
			want   float64
		}{
			{"http_server_request_duration_seconds", map[string]string{"http_route": "items", "http_request_method": "POST", "http_response_status_class": "2xx"}, n},
			{"http_server_request_duration_seconds", map[string]string{"http_route": "gone", "http_response_status_class": "4xx"}, 1},
			{"wasmgate_upstream_attempt_duration_seconds", map[string]string{"upstream": "echo"}, n},
			{"wasmgate_upstream_target_healthy", map[string]string{"upstream": "echo"}, 1},
		} {
			got, ok := count(c.name, c.labels)
			if !ok || got != c.want {
				t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
			}
		}
		if _, ok := fams["wasmgate_config_hash"]; !ok {
			t.Error("no wasmgate_config_hash in /metrics")
		}
	})
}

// sampleValue is a counter's or gauge's value, a histogram's count.
func sampleValue(typ dto.MetricType, m *dto.Metric) float64 {
	switch typ {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	case dto.MetricType_HISTOGRAM:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return m.GetUntyped().GetValue()
}
