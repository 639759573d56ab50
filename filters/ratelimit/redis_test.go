package ratelimit

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/gateway"
	"github.com/wasmgate/wasmgate/filters/internal/redistest"
	"github.com/wasmgate/wasmgate/filters/internal/stores"
)

// redisConfig has short store timeouts, for the tests of a slow or dead
// Redis.
func redisConfig(addr, prefix string) *config.Config {
	return redisConfigTimeout(addr, prefix, 250*time.Millisecond, 100*time.Millisecond)
}

// patientRedisConfig is for tests that count decisions made in Redis:
// its timeouts are bounds a loaded machine does not reach (a 100ms read
// timeout did, and the decision failed over to a local bucket: a 200
// where Redis said 429).
func patientRedisConfig(addr, prefix string) *config.Config {
	return redisConfigTimeout(addr, prefix, 5*time.Second, 5*time.Second)
}

func redisConfigTimeout(addr, prefix string, dial, rw time.Duration) *config.Config {
	cfg := &config.Config{}
	config.SetSection(cfg, "stores", &stores.Config{Redis: &stores.Redis{
		Address: addr, KeyPrefix: prefix, PoolSize: 16,
		DialTimeout:  config.Duration(dial),
		ReadTimeout:  config.Duration(rw),
		WriteTimeout: config.Duration(rw),
	}})
	return cfg
}

// Overrides in Redis: each policy has keys of its own, so a consumer on
// its own rate and one on the block's rate never share a bucket.
func TestRedisOverrides(t *testing.T) {
	addr := redistest.Addr(t)
	cfg := patientRedisConfig(addr, redistest.Prefix(t))
	cfg.Consumers = []config.Consumer{{Name: "acme"}, {Name: "bob"}}
	f := build(t, `{name: api, key: route, rate: 2/m, consumers: {acme: {rate: 5/m}}, store: redis}`, cfg)
	for _, c := range []struct {
		consumer string
		want     int
	}{{"acme", 5}, {"bob", 2}} {
		admitted := 0
		for range 8 {
			x := exchange("192.0.2.1")
			x.Consumer = &filter.Consumer{Name: c.consumer}
			if roundTrip(f, x).Status == 200 {
				admitted++
			}
		}
		if admitted != c.want {
			t.Errorf("%s: %d of 8 admitted by redis, want %d", c.consumer, admitted, c.want)
		}
	}
	if f.store.Failovers() != 0 {
		t.Errorf("%d decisions made without redis", f.store.Failovers())
	}
}

// TestRedisDecisionsAndHeaders: the burst is admitted with RateLimit
// counting down, then refused; refusals consume nothing, which shows in
// the refusal's Retry-After: within one interval after 200 refusals (each
// would have pushed it a minute further had it consumed). The rate is one
// a minute so that no token refills while a loaded machine runs the 210
// round trips: an upper bound, where the former 2s interval and a sleep
// to wait it out were a race.
func TestRedisDecisionsAndHeaders(t *testing.T) {
	addr := redistest.Addr(t)
	f := build(t, `{name: api, key: client_ip, rate: 1/m, burst: 10, store: redis}`, patientRedisConfig(addr, redistest.Prefix(t)))
	for i := range 10 {
		r := roundTrip(f, exchange("192.0.2.1"))
		if r.Status != 200 {
			t.Fatalf("request %d: status %d, want 200 within the burst (failovers %d)", i+1, r.Status, f.store.Failovers())
		}
		if got, want := r.Header.Get("RateLimit"), `"api";r=`+itoa(9-i); !strings.HasPrefix(got, want) {
			t.Errorf("request %d: RateLimit = %q, want it to start %q", i+1, got, want)
		}
	}
	var last *filter.Response
	for i := range 200 {
		last = roundTrip(f, exchange("192.0.2.1"))
		if last.Status != 429 {
			t.Fatalf("over the limit, request %d: status %d, want 429 (failovers %d)", i+1, last.Status, f.store.Failovers())
		}
	}
	if ra, err := strconv.Atoi(last.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Errorf("Retry-After after 200 refusals = %q, want 1 to 60 (one interval): refusals consumed tokens", last.Header.Get("Retry-After"))
	}
	if !f.store.Up() || f.store.Failovers() != 0 {
		t.Errorf("store up=%v failovers=%d, want every decision made by redis", f.store.Up(), f.store.Failovers())
	}
}

// gatewayConfig is a whole gateway config: one route limited through Redis.
func gatewayConfig(addr, prefix, limit string) []byte {
	return fmt.Appendf(nil, `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
stores:
  redis: { address: %q, key_prefix: %q }
routes:
  - name: limited
    match: { prefix: /limited }
    filters:
      - rate_limit: %s
    respond: { status: 200, body: ok }
  - name: closed
    match: { prefix: /closed }
    filters:
      - rate_limit: { name: closed, rate: 100/m, store: redis, on_store_failure: fail_closed }
    respond: { status: 200, body: ok }
`, addr, prefix, limit)
}

func startGateway(t *testing.T, cfg []byte) string {
	t.Helper()
	g, err := gateway.Start(gateway.Source{Name: "test", Bytes: cfg}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Shutdown(context.Background()) })
	return "http://" + g.Addrs()["main"].String()
}

func status(t testing.TB, c *http.Client, url string) (int, http.Header) {
	resp, err := c.Get(url)
	if err != nil {
		t.Error(err)
		return 0, nil
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// TestTwoGatewaysShareOneLimit runs two gateway instances on one Redis and
// floods both at once: together they must admit the configured total. The
// rate is slow (1000 per hour) so the test measures sharing, not timing:
// at most one token refills while it runs.
func TestTwoGatewaysShareOneLimit(t *testing.T) {
	addr := redistest.Addr(t)
	cfg := gatewayConfig(addr, redistest.Prefix(t), `{ rate: 1000/h, burst: 1000, store: redis }`)
	// This measures sharing, not failover: with the default 100ms timeouts a
	// loaded CI machine can make Redis look down, and fail_open then admits
	// from each instance's local stand-in (as declared, but not this test).
	cfg = bytes.Replace(cfg, []byte("redis: { address:"), []byte("redis: { read_timeout: 5s, write_timeout: 5s, dial_timeout: 5s, address:"), 1)
	urls := []string{startGateway(t, cfg), startGateway(t, cfg)}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

	var admitted, refused [2]atomic.Int64
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := w % 2
			for range 100 { // 1600 requests for a limit of 1000
				switch code, _ := status(t, client, urls[g]+"/limited"); code {
				case 200:
					admitted[g].Add(1)
				case 429:
					refused[g].Add(1)
				default:
					t.Errorf("status %d, want 200 or 429", code)
				}
			}
		}()
	}
	wg.Wait()
	total := admitted[0].Load() + admitted[1].Load()
	t.Logf("admitted %d + %d = %d of 1600; refused %d + %d", admitted[0].Load(), admitted[1].Load(), total, refused[0].Load(), refused[1].Load())
	if total < 980 || total > 1020 {
		t.Errorf("two instances admitted %d together, want 1000 ± 2%%", total)
	}
	if admitted[0].Load() < 300 || admitted[1].Load() < 300 {
		t.Errorf("both instances should have admitted a share: %d and %d", admitted[0].Load(), admitted[1].Load())
	}
}

// TestRedisKilledMidRun kills the Redis both policies depend on, checks each
// follows its declared policy, then restarts Redis and checks the shared
// limit is back without restarting the gateway.
func TestRedisKilledMidRun(t *testing.T) {
	srv := redistest.Start(t)
	prefix := redistest.Prefix(t)
	url := startGateway(t, gatewayConfig(srv.Addr, prefix, `{ name: open, rate: 10/m, burst: 5, store: redis, on_store_failure: fail_open }`))
	client := &http.Client{Timeout: 5 * time.Second}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	keys := func() []string {
		ks, err := rdb.Keys(context.Background(), prefix+"*").Result()
		if err != nil {
			t.Fatalf("listing keys: %v", err)
		}
		sort.Strings(ks)
		return ks
	}

	if code, h := status(t, client, url+"/limited"); code != 200 || h.Get("RateLimit") != `"open";r=4;t=6` {
		t.Fatalf("with redis up: %d %q, want 200 and the shared count", code, h.Get("RateLimit"))
	}
	if code, _ := status(t, client, url+"/closed"); code != 200 {
		t.Fatalf("fail_closed route with redis up: %d", code)
	}
	if got := keys(); len(got) != 2 {
		t.Fatalf("keys in redis %v, want one per route", got)
	}

	srv.Kill()
	// fail_closed: 503 with Retry-After, however many requests.
	for i := range 5 {
		code, h := status(t, client, url+"/closed")
		if code != 503 || h.Get("Retry-After") == "" {
			t.Fatalf("fail_closed with redis down, request %d: %d (Retry-After %q), want 503 with Retry-After", i+1, code, h.Get("Retry-After"))
		}
	}
	// fail_open: a per-instance limiter of the same policy takes over, so
	// the route is still limited: burst 5, then 429.
	var codes []int
	for range 7 {
		code, _ := status(t, client, url+"/limited")
		codes = append(codes, code)
	}
	if fmt.Sprint(codes) != "[200 200 200 200 200 429 429]" {
		t.Errorf("fail_open with redis down: %v, want the local fallback's burst of 5 then 429", codes)
	}

	srv.Restart()
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, _ := status(t, client, url+"/closed")
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis is back but fail_closed still answers %d after 5s", code)
		}
		time.Sleep(50 * time.Millisecond) // poll interval; the 200 is what is waited for
	}
	// The restarted Redis is empty: the shared limit starts over there.
	if code, h := status(t, client, url+"/limited"); code != 200 || h.Get("RateLimit") != `"open";r=4;t=6` {
		t.Errorf("after recovery: %d %q, want decisions from redis again", code, h.Get("RateLimit"))
	}
	if got := keys(); len(got) != 2 {
		t.Errorf("keys in redis after recovery %v, want both routes deciding there again", got)
	}
}

// TestRedisSlowFollowsPolicy stalls Redis (DEBUG SLEEP) past the read
// timeout: a slow store is a failed store.
func TestRedisSlowFollowsPolicy(t *testing.T) {
	srv := redistest.Start(t)
	f := build(t, `{name: slow, rate: 100/s, store: redis, on_store_failure: fail_closed}`, redisConfig(srv.Addr, redistest.Prefix(t)))
	if r := roundTrip(f, exchange("192.0.2.1")); r.Status != 200 {
		t.Fatalf("redis responsive: %d", r.Status)
	}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	// CLIENT PAUSE returns once every other client is held for 3s: the
	// stall is in place before the next decision, with no sleep to guess it.
	// A decision that waited the stall out would be answered (200): the 503
	// itself shows the timeouts cut it short, on any machine.
	if err := rdb.Do(context.Background(), "CLIENT", "PAUSE", "3000", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	if r := roundTrip(f, exchange("192.0.2.1")); r.Status != 503 {
		t.Fatalf("redis stalled: %d, want 503 under fail_closed", r.Status)
	}
	// The failed decision marked the store down: the next ones do not ask
	// Redis (and so cannot wait on it) until the probe sees it answer.
	if f.store.Up() {
		t.Fatal("the store is still up after a timed-out decision")
	}
	if r := roundTrip(f, exchange("192.0.2.1")); r.Status != 503 {
		t.Errorf("while down: %d, want 503 under fail_closed", r.Status)
	}
	deadline := time.Now().Add(5 * time.Second)
	for roundTrip(f, exchange("192.0.2.1")).Status != 200 {
		if time.Now().After(deadline) {
			t.Fatal("redis answered again but the limit did not recover")
		}
		time.Sleep(50 * time.Millisecond) // poll interval: the 3s CLIENT PAUSE must run out
	}
}

// BenchmarkRedisDecision is one shared decision: a round trip to Redis and
// the GCRA script. Reported: decisions/s and the p99 latency one adds.
func BenchmarkRedisDecision(b *testing.B) {
	addr := redistest.Addr(b)
	f := build(b, `{key: client_ip, rate: 1000000/s, burst: 1000000000, store: redis}`, redisConfig(addr, redistest.Prefix(b)))
	x := exchange("192.0.2.1")
	lat := make([]time.Duration, 0, 1<<16)
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		t0 := time.Now()
		if d, ok := f.decide(x, f.def); !ok || !d.allowed {
			b.Fatal("refused")
		}
		if len(lat) < cap(lat) {
			lat = append(lat, time.Since(t0))
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "decisions/s")
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
	if f.store.Failovers() != 0 {
		b.Fatalf("%d decisions failed over", f.store.Failovers())
	}
}

func BenchmarkRedisDecisionParallel(b *testing.B) {
	addr := redistest.Addr(b)
	f := build(b, `{key: "header:X-Key", rate: 1000000/s, burst: 1000000000, store: redis}`, redisConfig(addr, redistest.Prefix(b)))
	var n atomic.Int64
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		x := exchange("192.0.2.1")
		x.Request.Header.Set("X-Key", fmt.Sprint(n.Add(1)))
		for pb.Next() {
			if d, ok := f.decide(x, f.def); !ok || !d.allowed {
				b.Error("refused")
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "decisions/s")
}
