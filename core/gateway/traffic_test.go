package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/filter"
)

// Every latency falls inside the bounds of its bucket, and buckets are
// contiguous, so a quantile read off them is off by at most a bucket's width.
func TestLatencyBuckets(t *testing.T) {
	for _, d := range []time.Duration{0, time.Microsecond, 2 * time.Microsecond, 3 * time.Microsecond, 7 * time.Microsecond,
		999 * time.Microsecond, time.Millisecond, 1500 * time.Microsecond, 42 * time.Millisecond, 3 * time.Second, 30 * time.Minute} {
		us := float64(d.Microseconds())
		lo, hi := bucketBounds(latencyBucket(d))
		if us < lo || us >= hi {
			t.Errorf("%v (%v µs) in bucket %d = [%v, %v)", d, us, latencyBucket(d), lo, hi)
		}
	}
	for b := 1; b < latencyBuckets; b++ {
		_, prevHi := bucketBounds(b - 1)
		if lo, _ := bucketBounds(b); lo != prevHi {
			t.Errorf("bucket %d starts at %v, bucket %d ends at %v", b, lo, b-1, prevHi)
		}
	}
	if b := latencyBucket(100 * time.Hour); b != latencyBuckets-1 {
		t.Errorf("an hours-long request in bucket %d, want the last", b)
	}
}

func TestQuantile(t *testing.T) {
	var counts [latencyBuckets]uint64
	counts[latencyBucket(time.Millisecond)] = 90
	counts[latencyBucket(200*time.Millisecond)] = 10
	near := func(got, want float64) bool { return math.Abs(got-want) <= want*0.5 }
	if p50 := quantile(&counts, 100, 0.5); !near(p50, 1) {
		t.Errorf("p50 = %v ms, want about 1", p50)
	}
	if p99 := quantile(&counts, 100, 0.99); !near(p99, 200) {
		t.Errorf("p99 = %v ms, want about 200", p99)
	}
	if q := quantile(&counts, 0, 0.5); q != 0 {
		t.Errorf("quantile of nothing = %v", q)
	}
}

// The sampler turns each route's counters into rates per interval: requests
// per second, the 5xx share, latencies. Counters belong to the route's name,
// so a reload keeps its history, and a route removed from the config is
// forgotten.
func TestTrafficHistoryPerRoute(t *testing.T) {
	up := echoUpstream(t)
	file := filepath.Join(t.TempDir(), "gw.yaml")
	write := func(extra string) {
		t.Helper()
		cfg := fmt.Sprintf(`
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
upstreams:
  echo: { targets: [{ url: %q }] }
routes:
  - { name: ok, match: { path: /ok }, upstream: echo }
  - { name: failing, match: { path: /fail }, respond: { status: 503 } }
%s`, up.URL, extra)
		if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("  - { name: spare, match: { path: /spare }, respond: { status: 200 } }\n")
	g, base := startGateway(t, file)
	g.stopSampler() // the test takes the samples itself
	now := time.Unix(1_700_000_000, 0)
	sample := func() {
		now = now.Add(sampleEvery)
		g.traffic.sample(now, sampleEvery)
	}
	sample() // an idle interval first: routes start with history padding
	for range 8 {
		get(t, base+"/ok")
	}
	for range 4 {
		get(t, base+"/fail")
	}
	sample()

	rep, ok := g.Traffic("")
	if !ok || len(rep.Total.Time) != 2 || rep.Total.Time[1] != now.Unix() {
		t.Fatalf("total series: %+v", rep.Total)
	}
	if got := rep.Total.RPS[1]; got != 6 { // 12 requests in 2s
		t.Errorf("total rps = %v, want 6", got)
	}
	names := []string{}
	for _, r := range rep.Routes {
		names = append(names, r.Name)
	}
	if strings.Join(names, ",") != "ok,failing" { // busiest first; spare had no traffic
		t.Errorf("routes with traffic: %v, want ok,failing", names)
	}
	if r := rep.Routes[0]; r.RPS != 4 || r.ErrorRate != 0 || r.P50Millis <= 0 || r.P99Millis < r.P50Millis {
		t.Errorf("ok: %+v", r)
	}
	if r := rep.Routes[1]; r.RPS != 2 || r.ErrorRate != 1 {
		t.Errorf("failing: %+v", r)
	}
	rep, ok = g.Traffic("ok")
	if !ok || rep.Series == nil || !slices.Equal(rep.Series.RPS, []float64{0, 4}) || !slices.Equal(rep.Series.Time, rep.Total.Time) {
		t.Fatalf("ok's series: %+v", rep.Series)
	}
	if rep, ok := g.Traffic("spare"); !ok || rep.Series == nil || len(rep.Series.RPS) != 0 {
		t.Errorf("a configured route without traffic: %v %+v", ok, rep.Series)
	}
	if _, ok := g.Traffic("nope"); ok {
		t.Error("an unknown route has a history")
	}

	// A reload keeps the history of routes it keeps and drops the others.
	write("")
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	get(t, base+"/ok")
	sample()
	rep, _ = g.Traffic("ok")
	if !slices.Equal(rep.Series.RPS, []float64{0, 4, 0.5}) {
		t.Errorf("ok's series across a reload: %v", rep.Series.RPS)
	}
	if _, ok := g.Traffic("spare"); ok {
		t.Error("a route removed by a reload still has a history")
	}
}

// GET /status says which build runs, since when, the config's hash, and the
// last loads with their errors, newest first; /routes shows chains expanded.
func TestStatusReportsReloadsAndRoutesExpandChains(t *testing.T) {
	file := filepath.Join(t.TempDir(), "gw.yaml")
	good := `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
filter_chains:
  common: [{ test_probe: { tag: a } }, { test_probe: { tag: b } }]
routes:
  - name: r
    match: { prefix: / }
    filters: [{ chain: common }, { test_probe: { tag: c } }]
    respond: { status: 200 }
`
	if err := os.WriteFile(file, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	g, err := Start(Source{File: file, Version: "v9.9.9"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Shutdown(t.Context()) })
	if err := os.WriteFile(file, []byte(good+"  - { name: bad, upstream: nowhere }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := g.Reload(); err == nil {
		t.Fatal("a route to an unknown upstream reloaded")
	}
	st := g.Status()
	sum := sha256.Sum256([]byte(good))
	if st.Version != "v9.9.9" || st.StartedAt.IsZero() || st.ConfigHash != hex.EncodeToString(sum[:]) {
		t.Errorf("status: version %q started %v hash %q", st.Version, st.StartedAt, st.ConfigHash)
	}
	if len(st.Reloads) != 2 || st.Reloads[0].OK || !strings.Contains(st.Reloads[0].Error, "nowhere") ||
		st.Reloads[0].Generation != 1 || !st.Reloads[1].OK || st.Reloads[1].Generation != 1 {
		t.Errorf("reloads: %+v", st.Reloads)
	}
	if routes := g.Routes(); len(routes) != 1 || strings.Join(routes[0].Filters, ",") != "test_probe,test_probe,test_probe" {
		t.Errorf("routes: %+v", routes)
	}
	for range keptReloads + 3 {
		_ = g.Reload()
	}
	if n := len(g.Status().Reloads); n != keptReloads {
		t.Errorf("%d reloads kept, want %d", n, keptReloads)
	}
}

// BenchmarkRouteStatsRecord is what the console's counters add to each
// request: three atomic adds and a clock read, from every core at once.
func BenchmarkRouteStatsRecord(b *testing.B) {
	var st routeStats
	b.RunParallel(func(pb *testing.PB) {
		x := &filter.Exchange{Start: time.Now(), Status: 200}
		for pb.Next() {
			st.record(x)
		}
	})
}

// refuser answers the requests whose X-Refuse names its status with that
// status; with a plugin name it reports itself as that plugin.
type refuser struct {
	Status int    `yaml:"status"`
	Plugin string `yaml:"plugin"`
}

func init() {
	filter.Register("test_refuse", func() filter.Config { return new(refuser) })
}

func (c *refuser) Build(*filter.BuildContext) (filter.Filter, error) {
	if c.Plugin != "" {
		return &pluginRefuser{*c}, nil
	}
	return c, nil
}

func (c *refuser) OnRequest(x *filter.Exchange) *filter.Response {
	if x.Request.Header.Get("X-Refuse") == strconv.Itoa(c.Status) {
		return filter.Error(c.Status, "refused")
	}
	return nil
}

type pluginRefuser struct{ refuser }

func (p *pluginRefuser) PluginStatus() filter.PluginStatus {
	return filter.PluginStatus{Name: p.Plugin, Kind: "test", Instances: 1}
}

// Requests a filter refuses are counted by route, filter and status, and
// summed as auth (401, 403) and rate-limit (429) refusals; plugins are
// listed once with the routes that run them.
func TestRefusalsAndPlugins(t *testing.T) {
	file := filepath.Join(t.TempDir(), "gw.yaml")
	if err := os.WriteFile(file, []byte(`
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
routes:
  - name: a
    match: { prefix: /a }
    filters: [{ test_refuse: { status: 401 } }, { test_refuse: { status: 429, plugin: limiter } }]
    respond: { status: 200 }
  - name: b
    match: { prefix: /b }
    filters: [{ test_refuse: { status: 429, plugin: limiter } }, { test_refuse: { status: 400 } }]
    respond: { status: 200 }
`), 0o600); err != nil {
		t.Fatal(err)
	}
	g, base := startGateway(t, file)
	g.stopSampler()
	for path, n := range map[string]int{"/a 401": 2, "/a 429": 3, "/b 429": 1, "/b 400": 4, "/a 200": 5} {
		p, status, _ := strings.Cut(path, " ")
		for range n {
			if resp, _ := get(t, base+p, "X-Refuse", status); strconv.Itoa(resp.StatusCode) != status {
				t.Fatalf("%s with X-Refuse %s: %d", p, status, resp.StatusCode)
			}
		}
	}
	g.traffic.sample(time.Unix(1_700_000_000, 0), sampleEvery)
	rf := g.Refusals()
	if rf.Auth != 2 || rf.RateLimit != 4 || rf.Other != 4 {
		t.Errorf("sums: auth %d, rate limit %d, other %d; want 2, 4, 4", rf.Auth, rf.RateLimit, rf.Other)
	}
	var got []string
	for _, r := range rf.Refusals {
		got = append(got, fmt.Sprintf("%s %s %d %s %d %.1f", r.Route, r.Filter, r.Status, r.Kind, r.Total, r.PerSecond))
	}
	want := []string{
		"b test_refuse 400 other 4 2.0",
		"a test_refuse 429 rate_limit 3 1.5",
		"a test_refuse 401 auth 2 1.0",
		"b test_refuse 429 rate_limit 1 0.5",
	}
	if !slices.Equal(got, want) {
		t.Errorf("refusals:\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	plugins := g.Plugins()
	if len(plugins) != 1 || plugins[0].Name != "limiter" || !slices.Equal(plugins[0].Routes, []string{"a", "b"}) {
		t.Errorf("plugins: %+v, want limiter once, used by a and b", plugins)
	}
}

// BenchmarkTrafficSample10kRoutes is one sampler pass over 10,000
// configured routes, a tenth of them with traffic.
func BenchmarkTrafficSample10kRoutes(b *testing.B) {
	live := map[string]bool{}
	t := newTraffic(func() map[string]bool { return live })
	x := &filter.Exchange{Start: time.Now(), Status: 200}
	for i := range 10000 {
		name := "r" + strconv.Itoa(i)
		live[name] = true
		if st := t.stats(name); i%10 == 0 {
			st.record(x)
		}
	}
	now := time.Unix(1_700_000_000, 0)
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(sampleEvery)
		t.sample(now, sampleEvery)
	}
}
