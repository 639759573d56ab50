package wasm

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/filters/internal/redistest"
	"github.com/wasmgate/wasmgate/filters/internal/stores"
	"github.com/wasmgate/wasmgate/filters/wasm/guestmetric"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/proxywasm"
)

func metricValue(p *Plugin, name string) (guestmetric.Metric, bool) {
	for _, m := range p.Metrics() {
		if m.Name == name {
			return m, true
		}
	}
	return guestmetric.Metric{}, false
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // poll interval; cond is what is waited for
	}
}

// Shared data with CAS, queue resolve/enqueue, and metrics from one
// request, then the tick and the queue's proxy_on_queue_ready.
func TestSharedDataQueueMetricsTick(t *testing.T) {
	opts, logs := testOptions(t, "hostfeat")
	opts.VMID = "vm-" + t.Name()
	p := load(t, "hostfeat", opts)
	out := exchange(t, p, request("GET", "http://api.example.com/"))
	got := logMessages(out)
	want := []string{"a0", "b0", "v1", "c8", "d0", "e1", "f0", "g0", "h0", "i2", "j2"}
	if !slices.Equal(got, want) {
		t.Errorf("guest log %q, want %q", got, want)
	}
	if m, _ := metricValue(p, "requests"); m.Value != 1 || m.Kind != guestmetric.Counter || m.Plugin != "hostfeat" {
		t.Errorf("requests metric %+v", m)
	}
	if m, _ := metricValue(p, "level"); m.Value != 42 || m.Kind != guestmetric.Gauge {
		t.Errorf("level metric %+v", m)
	}
	if m, _ := metricValue(p, "sizes"); m.Value != 12 || m.Count != 2 || m.Kind != guestmetric.Histogram {
		t.Errorf("sizes metric %+v", m)
	}
	waitFor(t, "proxy_on_queue_ready", func() bool { m, _ := metricValue(p, "ready"); return m.Value == 1 })
	if !strings.Contains(logs.String(), "hello") {
		t.Errorf("the queue item was not logged by on_queue_ready:\n%s", logs)
	}
	waitFor(t, "three ticks", func() bool { m, _ := metricValue(p, "ticks"); return m.Value >= 3 })
	// GuestMetrics sees them too, as an exporter would.
	n := 0
	for _, m := range GuestMetrics(nil) {
		if m.Plugin == "hostfeat" {
			n++
		}
	}
	if n != 5 {
		t.Errorf("GuestMetrics has %d hostfeat metrics, want 5", n)
	}
}

// Ticks run on one instance per plugin, however many there are.
func TestTickOnOneInstance(t *testing.T) {
	opts, _ := testOptions(t, "hostfeat-tick")
	opts.VMID = "vm-" + t.Name()
	opts.Instances = 3
	p := load(t, "hostfeat", opts)
	// Three instances: pin three exchanges at once.
	for range 3 {
		in, err := p.pool.Acquire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer p.pool.Release(in)
	}
	if live, _ := p.pool.Size(); live != 3 {
		t.Fatalf("%d live instances, want 3", live)
	}
	time.Sleep(200 * time.Millisecond) // ticks are counted over a real 200ms window
	m, _ := metricValue(p, "ticks")
	// 10ms period over 200ms: about 20 from one instance, never ~60.
	if m.Value < 5 || m.Value > 30 {
		t.Errorf("%d ticks in 200ms at 10ms: not one ticking instance", m.Value)
	}
}

func redisStore(t testing.TB) *stores.Redis {
	addr := redistest.Addr(t)
	return &stores.Redis{Address: addr, KeyPrefix: redistest.Prefix(t),
		DialTimeout: config.Duration(time.Second), ReadTimeout: config.Duration(time.Second), WriteTimeout: config.Duration(time.Second), PoolSize: 8}
}

func TestSharedDataRedis(t *testing.T) {
	r, err := proxywasm.NewRedisShared(redisStore(t), slog.New(slog.DiscardHandler), "vm", 1024)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, _, st := r.Get("k"); st != proxywasm.StatusNotFound {
		t.Fatalf("missing key: %d", st)
	}
	if st := r.Set("k", []byte("v1"), 0); st != proxywasm.StatusOK {
		t.Fatalf("set: %d", st)
	}
	v, cas, st := r.Get("k")
	if st != proxywasm.StatusOK || string(v) != "v1" || cas == 0 {
		t.Fatalf("get: %q %d %d", v, cas, st)
	}
	if st := r.Set("k", []byte("v2"), cas+1); st != proxywasm.StatusCasMismatch {
		t.Errorf("stale CAS: %d", st)
	}
	if st := r.Set("k", []byte("v2"), cas); st != proxywasm.StatusOK {
		t.Errorf("current CAS: %d", st)
	}
	if st := r.Set("k", make([]byte, 2000), 0); st != proxywasm.StatusInternalFailure {
		t.Errorf("over the bound: %d", st)
	}
	// The guest sees the same through the host functions.
	opts, _ := testOptions(t, "hostfeat-redis")
	opts.VMID = "vm-" + t.Name()
	opts.SharedRedis = redisStore(t)
	p := load(t, "hostfeat", opts)
	out := exchange(t, p, request("GET", "http://api.example.com/"))
	if got := logMessages(out); len(got) < 5 || !slices.Equal(got[:5], []string{"a0", "b0", "v1", "c8", "d0"}) {
		t.Errorf("guest log with Redis: %q", got)
	}
}
