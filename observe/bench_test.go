package observe

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
)

// discard is a span exporter that drops spans: the benchmarks measure the
// SDK's work in the request path and its batcher, not OTLP encoding.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

func benchConfig(upstreamURL, obs string) string {
	return `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "127.0.0.1:0" }
observability:
` + obs + `
upstreams:
  u: { targets: [{ url: ` + yamlQuote(upstreamURL) + ` }] }
routes:
  - { name: plain, match: { path: "/plain" }, upstream: u }
`
}

// The observability variants benchmarked against each other.
var benchVariants = []struct{ name, obs string }{
	{"Off", `  {}`},
	{"Metrics", `  metrics: { prometheus: true }`},
	{"Log", `  access_log: { path: /dev/null }`},
	{"MetricsLog", `  metrics: { prometheus: true }
  access_log: { path: /dev/null }`},
	{"MetricsLogTrace0", `  metrics: { prometheus: true }
  access_log: { path: /dev/null }
  tracing: { otlp_endpoint: "http://127.0.0.1:4318", sample: 0 }`},
	{"MetricsLogTrace0ID", `  metrics: { prometheus: true }
  access_log: { path: /dev/null }
  request_id: {}
  tracing: { otlp_endpoint: "http://127.0.0.1:4318", sample: 0 }`},
	{"MetricsLogTrace100", `  metrics: { prometheus: true }
  access_log: { path: /dev/null }
  request_id: {}
  tracing: { otlp_endpoint: "http://127.0.0.1:4318", sample: 1 }`},
}

// BenchmarkExchange is one proxied GET (1 KiB response) through the gateway
// on loopback, with each observability variant. Compare with core/gateway's
// BenchmarkProxy; allocs/op include the client's and the upstream's.
func BenchmarkExchange(b *testing.B) {
	prev := newSpanExporter
	newSpanExporter = func(Tracing) (sdktrace.SpanExporter, error) { return discard{}, nil }
	defer func() { newSpanExporter = prev }()

	body := strings.Repeat("x", 1024)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, body)
	}))
	defer up.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for _, v := range benchVariants {
		b.Run(v.name, func(b *testing.B) {
			_, base, _ := start(b, benchConfig(up.URL, v.obs))
			url := base + "/plain"
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			defer func() { b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op") }()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Get(url)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
		})
	}
}

// BenchmarkObserverPath is the observability path alone, without the
// network: Begin, one attempt, End, as the gateway and proxy call them.
func BenchmarkObserverPath(b *testing.B) {
	prev := newSpanExporter
	newSpanExporter = func(Tracing) (sdktrace.SpanExporter, error) { return discard{}, nil }
	defer func() { newSpanExporter = prev }()

	for _, v := range benchVariants[1:] {
		b.Run(v.name, func(b *testing.B) {
			cfg, err := config.Parse("bench.yaml", []byte(benchConfig("http://127.0.0.1:9", v.obs)))
			if err != nil {
				b.Fatal(err)
			}
			kept := benchKeeper{}
			bc := &filter.BuildContext{Config: cfg, Keeper: kept}
			defer func() {
				for _, v := range kept {
					v.Close()
				}
			}()
			o, err := build(bc)
			if err != nil {
				b.Fatal(err)
			}
			obs := o.(*Observer)
			in := httptest.NewRequest("GET", "http://gw/plain", nil)
			out := httptest.NewRequest("GET", "http://127.0.0.1:9/plain", nil)
			x := &filter.Exchange{}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				*x = filter.Exchange{Request: in, Start: time.Now(), ClientIP: netip.AddrFrom4([4]byte{127, 0, 0, 1})}
				obs.Begin(x)
				x.Route, x.RouteIndex = "plain", 0
				a := filter.Attempt{Upstream: "u", Target: "127.0.0.1:9", N: 1, Request: out, Start: time.Now()}
				obs.AttemptStart(x, &a)
				a.Status, a.Duration = 200, time.Millisecond
				obs.AttemptEnd(x, &a)
				x.Status, x.BytesOut = 200, 1024
				obs.End(x)
			}
		})
	}
}

// cpuTime is the process's CPU time (user and system), which, unlike wall
// time, other work on a shared machine barely moves. It covers the client
// and the upstream too: compare variants, not absolute figures.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchKeeper keeps values for one benchmark (testutil's Keeper would be an
// import cycle: it imports this package).
type benchKeeper map[any]io.Closer

func (k benchKeeper) Keep(key any, create func() (io.Closer, error)) (io.Closer, error) {
	if v, ok := k[key]; ok {
		return v, nil
	}
	v, err := create()
	if err == nil {
		k[key] = v
	}
	return v, err
}
