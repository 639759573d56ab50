package quota

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/redistest"
	"github.com/wasmgate/wasmgate/filters/internal/stores"
)

func build(t *testing.T, c *Config, addr, prefix string) *Filter {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{}
	config.SetSection(cfg, "stores", &stores.Config{Redis: &stores.Redis{
		Address: addr, KeyPrefix: prefix, PoolSize: 4,
		DialTimeout: config.Duration(250 * time.Millisecond), ReadTimeout: config.Duration(100 * time.Millisecond), WriteTimeout: config.Duration(100 * time.Millisecond),
	}})
	f, err := c.Build(&filter.BuildContext{Route: "r", Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.(*Filter).store.Close() })
	return f.(*Filter)
}

func call(f *Filter, consumer string) *filter.Response {
	x := &filter.Exchange{Request: httptest.NewRequest("GET", "/", nil), ClientIP: netip.MustParseAddr("192.0.2.1"), Consumer: &filter.Consumer{Name: consumer}}
	if r := f.OnRequest(x); r != nil {
		x.Response = r
	} else {
		x.Response = &filter.Response{Status: 200, Header: http.Header{}}
	}
	f.OnResponse(x)
	return x.Response
}

func TestDailyQuota(t *testing.T) {
	addr, prefix := redistest.Addr(t), redistest.Prefix(t)
	f := build(t, &Config{Name: "plan", Limit: 3, Period: "day"}, addr, prefix)
	// A day ahead of the real one, at 18:00: counters expire by the real clock.
	day := time.Now().UTC().AddDate(0, 0, 2).Truncate(24 * time.Hour)
	now := day.Add(18 * time.Hour) // 6h to the day's end
	f.now = func() time.Time { return now }
	for i := range 3 {
		r := call(f, "acme")
		if r.Status != 200 {
			t.Fatalf("request %d: %d", i+1, r.Status)
		}
		if got, want := r.Header.Get("RateLimit"), `"plan";r=`+strconv.Itoa(2-i)+`;t=21600`; got != want {
			t.Errorf("request %d: RateLimit %q, want %q", i+1, got, want)
		}
		if got := r.Header.Get("RateLimit-Policy"); got != `"plan";q=3;w=86400` {
			t.Errorf("RateLimit-Policy %q", got)
		}
	}
	for range 5 {
		r := call(f, "acme")
		if r.Status != 429 || r.Header.Get("Retry-After") != "21600" {
			t.Fatalf("spent quota: %d Retry-After %q, want 429 until the day ends", r.Status, r.Header.Get("Retry-After"))
		}
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	used, err := rdb.Get(context.Background(), prefix+"{quota:plan:acme}:"+day.Format("2006-01-02")).Int()
	if err != nil || used != 3 {
		t.Errorf("counter %d (%v), want 3: refusals must not count", used, err)
	}
	if r := call(f, "other"); r.Status != 200 {
		t.Error("another consumer has its own quota")
	}
	now = now.Add(7 * time.Hour) // the next day
	if r := call(f, "acme"); r.Status != 200 {
		t.Error("a new day is a new quota")
	}
}

func TestMonthWindow(t *testing.T) {
	f := &Filter{period: "month"}
	label, end := f.window(time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC))
	if label != "2026-12" || !end.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("month window %s ending %v", label, end)
	}
}

func TestFailClosed(t *testing.T) {
	srv := redistest.Start(t)
	f := build(t, &Config{Name: "plan", Limit: 10, Period: "hour", OnStoreFailure: "fail_closed"}, srv.Addr, redistest.Prefix(t))
	if r := call(f, "a"); r.Status != 200 {
		t.Fatalf("redis up: %d", r.Status)
	}
	srv.Kill()
	if r := call(f, "a"); r.Status != 503 {
		t.Errorf("redis down, fail_closed: %d, want 503", r.Status)
	}
	open := build(t, &Config{Name: "plan2", Limit: 10, Period: "hour"}, srv.Addr, "x:")
	if r := call(open, "a"); r.Status != 200 || r.Header.Get("RateLimit") != "" {
		t.Errorf("redis down, fail_open: %d %q, want admitted without headers", r.Status, r.Header.Get("RateLimit"))
	}
}
