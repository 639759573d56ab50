package ratelimit

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/limits"
)

// build decodes a rate_limit block as the loader would, validates and builds it.
func build(t testing.TB, block string, cfg *config.Config) *Filter {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(block), &n); err != nil {
		t.Fatal(err)
	}
	c := new(Config)
	if err := config.Decode("", &n, "rate_limit", c); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	f, err := c.Build(&filter.BuildContext{Route: "r", RouteParams: []string{"id"}, Logger: slog.New(slog.DiscardHandler), Config: cfg})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	if s := f.(*Filter).store; s != nil {
		t.Cleanup(func() { _ = s.Close() })
	}
	return f.(*Filter)
}

func exchange(ip string) *filter.Exchange {
	return &filter.Exchange{Request: httptest.NewRequest("GET", "/", nil), Route: "r", ClientIP: netip.MustParseAddr(ip)}
}

// roundTrip runs the filter's phases as the chain would and returns the
// response the client gets (a 200 from "upstream" if admitted).
func roundTrip(f *Filter, x *filter.Exchange) *filter.Response {
	if r := f.OnRequest(x); r != nil {
		x.Response = r
	} else {
		x.Response = &filter.Response{Status: 200, Header: http.Header{}}
	}
	f.OnResponse(x)
	return x.Response
}

func TestHeadersExact(t *testing.T) {
	f := build(t, `{name: api, key: client_ip, rate: 5/s, burst: 10}`, nil)
	for i := range 10 {
		r := roundTrip(f, exchange("192.0.2.1"))
		if r.Status != 200 {
			t.Fatalf("request %d: status %d, want 200 within the burst", i+1, r.Status)
		}
		// 5/s burst 10: the quota is 10 refilled over 2s; one costs 200ms.
		if got, want := r.Header.Get("RateLimit-Policy"), `"api";q=10;w=2`; got != want {
			t.Errorf("RateLimit-Policy = %q, want %q", got, want)
		}
		wantT := []string{"1", "1", "1", "1", "1", "2", "2", "2", "2", "2"}[i] // ceil((i+1)*200ms)
		if got, want := r.Header.Get("RateLimit"), `"api";r=`+itoa(9-i)+`;t=`+wantT; got != want {
			t.Errorf("request %d: RateLimit = %q, want %q", i+1, got, want)
		}
	}
	r := roundTrip(f, exchange("192.0.2.1"))
	if r.Status != 429 {
		t.Fatalf("11th request: status %d, want 429", r.Status)
	}
	if got := r.Header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want 1 (200ms, rounded up)", got)
	}
	if got, want := r.Header.Get("RateLimit"), `"api";r=0;t=2`; got != want {
		t.Errorf("429 RateLimit = %q, want %q", got, want)
	}
	if got := r.Header.Values("RateLimit-Policy"); len(got) != 1 {
		t.Errorf("429 carries RateLimit-Policy %d times, want once: %q", len(got), got)
	}
	var body struct {
		Error      string `json:"error"`
		Status     int    `json:"status"`
		Policy     string `json:"policy"`
		RetryAfter int    `json:"retry_after"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("429 body %q (%v) is not JSON", r.Body, err)
	}
	if body.Status != 429 || body.Policy != "api" || body.RetryAfter != 1 || body.Error == "" {
		t.Errorf("429 body %+v, want status 429, policy api, retry_after 1", body)
	}
	if r := roundTrip(f, exchange("192.0.2.2")); r.Status != 200 {
		t.Errorf("another client IP: status %d, want its own limit", r.Status)
	}
}

func TestHeadersOff(t *testing.T) {
	f := build(t, `{rate: 1/s, headers: false}`, nil)
	r := roundTrip(f, exchange("192.0.2.1"))
	if r.Header.Get("RateLimit") != "" || r.Header.Get("RateLimit-Policy") != "" {
		t.Errorf("headers: false still sent %v", r.Header)
	}
	if r := roundTrip(f, exchange("192.0.2.9")); r.Status != 429 {
		t.Errorf("no key is one global limit: second client got %d, want 429", r.Status)
	}
}

func TestKeys(t *testing.T) {
	f := build(t, `{key: [consumer, "header:X-Tenant", "param:id"], rate: 1/m}`, nil)
	mk := func(consumer, tenant, id string) *filter.Exchange {
		x := exchange("192.0.2.1")
		if consumer != "" {
			x.Consumer = &filter.Consumer{Name: consumer}
		}
		x.Request.Header.Set("X-Tenant", tenant)
		x.Params = append(x.Params, struct{ Name, Value string }{"id", id})
		return x
	}
	if r := roundTrip(f, mk("a", "t1", "1")); r.Status != 200 {
		t.Fatal("first request refused")
	}
	if r := roundTrip(f, mk("a", "t1", "1")); r.Status != 429 {
		t.Error("the same composite key must share one limit")
	}
	for _, x := range []*filter.Exchange{mk("b", "t1", "1"), mk("a", "t2", "1"), mk("a", "t1", "2")} {
		if r := roundTrip(f, x); r.Status != 200 {
			t.Errorf("a key differing in one part must have its own limit; got %d", r.Status)
		}
	}
	x := mk("a", "t1", "1")
	if got, want := f.key.Render(x), "a|t1|1"; got != want {
		t.Errorf("rendered key %q, want %q", got, want)
	}
	anon := mk("", "t1", "1")
	if got, want := f.key.Render(anon), "ip=192.0.2.1|t1|1"; got != want {
		t.Errorf("a missing consumer falls back to the client IP: %q, want %q", got, want)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct{ block, want string }{
		{`{rate: 5/x}`, `expected a rate like "100/s"`},
		{`{rate: fast}`, `expected a rate like`},
		{`{burst: 3}`, `rate: a rate is required`},
		{`{rate: 1/s, store: memcached}`, `store: "memcached" is not valid; valid values: local, redis`},
		{`{rate: 1/s, on_store_failure: maybe}`, `on_store_failure: "maybe" is not valid`},
		{`{rate: 1/s, key: ip}`, `unknown key part "ip"`},
		{`{rate: 1/s, key: "header:"}`, `key part "header:"`},
		{`{rate: 2000000/s}`, `more than 1000000/s`},
	}
	for _, c := range cases {
		var n yaml.Node
		_ = yaml.Unmarshal([]byte(c.block), &n)
		cfg := new(Config)
		err := config.Decode("", &n, "rate_limit", cfg)
		if err == nil {
			err = cfg.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.block, err, c.want)
		}
	}
	_, err := (&Config{Rate: Rate{Count: 1, Period: 1e9}, Key: mustKey(t, "param:nope")}).Build(&filter.BuildContext{RouteParams: []string{"id"}})
	if err == nil || !strings.Contains(err.Error(), `no path parameter "nope" (it has: id)`) {
		t.Errorf("unknown route param: got %v", err)
	}
	_, err = (&Config{Rate: Rate{Count: 1, Period: 1e9}, Store: "redis"}).Build(&filter.BuildContext{Config: &config.Config{}})
	if err == nil || !strings.Contains(err.Error(), "stores: {redis:") {
		t.Errorf("redis without stores.redis: got %v", err)
	}
}

func mustKey(t *testing.T, parts ...string) limits.Key {
	k, err := limits.ParseKey(parts...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func itoa(i int) string { return string(rune('0' + i)) }

// BenchmarkDecideClientIP is the whole local decision the hot path makes:
// hash the client IP, find its bucket, decide.
func BenchmarkDecideClientIP(b *testing.B) {
	f := build(b, `{key: client_ip, rate: 1000000/s, burst: 1000000000}`, nil)
	x := exchange("192.0.2.1")
	b.ReportAllocs()
	for b.Loop() {
		if d, _ := f.decide(x, f.def); !d.allowed {
			b.Fatal("refused")
		}
	}
}

func BenchmarkOnRequestHeader(b *testing.B) {
	f := build(b, `{key: "header:X-Api-Key", rate: 1000000/s, burst: 1000000000}`, nil)
	x := exchange("192.0.2.1")
	x.Request.Header.Set("X-Api-Key", "k-123456")
	b.ReportAllocs()
	for b.Loop() {
		f.OnRequest(x)
	}
}

// Overrides: a named consumer's own rate wins over its tier's, a tier's
// over the block's; each is a policy of its own, with its own buckets,
// headers and 429 body.
func TestConsumerAndTierOverrides(t *testing.T) {
	cfg := &config.Config{Consumers: []config.Consumer{{Name: "acme"}, {Name: "bob"}, {Name: "eve"}}}
	f := build(t, `{name: api, key: consumer, rate: 2/m, consumers: {acme: {rate: 5/m}}, tiers: {gold: {rate: 3/m, burst: 4}}}`, cfg)
	who := func(name, tier string) *filter.Exchange {
		x := exchange("192.0.2.1")
		x.Consumer = &filter.Consumer{Name: name, Metadata: map[string]string{"tier": tier}}
		return x
	}
	cases := []struct {
		consumer, tier string
		admitted       int
		policy         string
	}{
		{"acme", "gold", 5, `"api.acme";q=5;w=60`},     // its own entry wins over its tier
		{"bob", "gold", 4, `"api.tier-gold";q=4;w=80`}, // the tier's burst of 4, one per 20s
		{"eve", "free", 2, `"api";q=2;w=60`},           // a tier without an entry: the block's
	}
	for _, c := range cases {
		admitted := 0
		var last *filter.Response
		for range 10 {
			if last = roundTrip(f, who(c.consumer, c.tier)); last.Status == 200 {
				admitted++
			}
		}
		if admitted != c.admitted {
			t.Errorf("%s (%s): %d of 10 admitted, want %d", c.consumer, c.tier, admitted, c.admitted)
		}
		if got := last.Header.Get("RateLimit-Policy"); got != c.policy {
			t.Errorf("%s: RateLimit-Policy %q, want %q", c.consumer, got, c.policy)
		}
		name := strings.TrimPrefix(strings.Split(c.policy, ";")[0], `"`)
		if !strings.Contains(string(last.Body), `"policy":"`+strings.TrimSuffix(name, `"`)+`"`) {
			t.Errorf("%s: 429 body %s does not name policy %s", c.consumer, last.Body, name)
		}
	}
}

// An override for a consumer the config does not declare is a config
// error, not a customer silently left on the default rate.
func TestOverrideForUnknownConsumer(t *testing.T) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(`{rate: 2/m, consumers: {acme: {rate: 5/m}}}`), &n); err != nil {
		t.Fatal(err)
	}
	c := new(Config)
	if err := config.Decode("", &n, "rate_limit", c); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Consumers: []config.Consumer{{Name: "acne"}}}
	_, err := c.Build(&filter.BuildContext{Route: "r", Logger: slog.New(slog.DiscardHandler), Config: cfg})
	if err == nil || !strings.Contains(err.Error(), `unknown consumer "acme"`) {
		t.Errorf("build: %v, want an unknown consumer error", err)
	}
	if err := (&Config{Rate: Rate{Count: 1, Period: time.Second}, Tiers: map[string]Override{"gold": {}}}).Validate(); err == nil || !strings.Contains(err.Error(), "tiers.gold.rate") {
		t.Errorf("validate of a tier without a rate: %v, want an error at tiers.gold.rate", err)
	}
}
