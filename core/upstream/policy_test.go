package upstream

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
)

// fakeClock is moved by tests; AfterFunc timers fire when it passes them.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c    *fakeClock
	at   time.Time
	f    func()
	done bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) stopper {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.done
	t.done = true
	return was
}

// Advance moves the clock and runs the timers that came due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	for _, t := range c.timers {
		if !t.done && !t.at.After(c.now) {
			t.done = true
			due = append(due, t.f)
		}
	}
	c.mu.Unlock()
	for _, f := range due {
		f()
	}
}

func targetsN(n int) []config.Target {
	var ts []config.Target
	for i := range n {
		ts = append(ts, config.Target{URL: fmt.Sprintf("http://10.0.%d.%d:80", i/250, i%250+1), Weight: 1})
	}
	return ts
}

func newWith(t testing.TB, c *config.Upstream, o options) *Upstream {
	t.Helper()
	if c.MaxIdlePerTarget == 0 {
		c.MaxIdlePerTarget = 8
	}
	o.manual = true
	u, err := build("u", c, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	return u
}

func counts(u *Upstream, n int, x func(i int) *filter.Exchange) map[string]int {
	m := map[string]int{}
	for i := range n {
		var ex *filter.Exchange
		if x != nil {
			ex = x(i)
		}
		m[u.Pick(ex, nil).Host]++
	}
	return m
}

func TestLeastConnPrefersIdleTargets(t *testing.T) {
	u := newWith(t, &config.Upstream{Targets: targetsN(3), Balancer: "least_conn"}, options{})
	ts := u.Targets()
	for range 5 {
		ts[0].Begin()
	}
	ts[1].Begin()
	got := counts(u, 30, nil)
	if got[ts[0].Host] != 0 || got[ts[2].Host] != 30 {
		t.Errorf("picks %v: want all on the idle target %s", got, ts[2].Host)
	}
	// Begin as the proxy would: load then spreads evenly.
	m := map[string]int{}
	for range 300 {
		tg := u.Pick(nil, nil)
		tg.Begin()
		m[tg.Host]++
	}
	if m[ts[2].Host] < m[ts[1].Host] || m[ts[1].Host] < m[ts[0].Host] {
		t.Errorf("in-flight-driven picks %v: the least loaded must have taken most", m)
	}
}

func TestP2CAvoidsSlowTarget(t *testing.T) {
	u := newWith(t, &config.Upstream{Targets: targetsN(4), Balancer: "p2c_ewma"}, options{})
	ts := u.Targets()
	now := time.Now().UnixNano()
	for i, tg := range ts {
		rtt := time.Millisecond
		if i == 3 {
			rtt = 50 * time.Millisecond
		}
		tg.observe(now, rtt)
	}
	got := counts(u, 10000, nil)
	if slow := got[ts[3].Host]; slow > 100 {
		t.Errorf("slow target got %d of 10000 picks, want almost none: %v", slow, got)
	}
	for _, tg := range ts[:3] {
		if c := got[tg.Host]; c < 2500 || c > 4200 {
			t.Errorf("fast target %s got %d of 10000, want about a third: %v", tg.Host, c, got)
		}
	}
}

func TestPicksSkipUnavailableAndPanicWhenAllOut(t *testing.T) {
	for _, bal := range []string{"round_robin", "least_conn", "p2c_ewma", "consistent_hash"} {
		t.Run(bal, func(t *testing.T) {
			c := &config.Upstream{Targets: targetsN(4), Balancer: bal}
			if bal == "consistent_hash" {
				c.Hash = &config.HashKey{Header: "X-Key"}
			}
			u := newWith(t, c, options{})
			ts := u.Targets()
			ts[1].state.Store(stateDown)
			ts[2].state.Store(stateEjected)
			x := func(i int) *filter.Exchange {
				return &filter.Exchange{Request: &http.Request{Header: http.Header{"X-Key": {fmt.Sprint(i)}}}}
			}
			got := counts(u, 400, x)
			if got[ts[1].Host]+got[ts[2].Host] != 0 {
				t.Errorf("unavailable targets were picked: %v", got)
			}
			for _, tg := range ts {
				tg.state.Store(stateDown)
			}
			got = counts(u, 400, x)
			if len(got) < 2 {
				t.Errorf("with every target out, picks must spread over all (panic mode), got %v", got)
			}
			if u.Status().Panics == 0 {
				t.Error("panic picks not counted")
			}
		})
	}
}

func TestConsistentHashStableAndMinimalDisruption(t *testing.T) {
	key := func(i int) *filter.Exchange {
		return &filter.Exchange{Request: &http.Request{Header: http.Header{"X-User": {fmt.Sprintf("user-%d", i)}}}}
	}
	mk := func(n int) *Upstream {
		return newWith(t, &config.Upstream{Targets: targetsN(n), Balancer: "consistent_hash", Hash: &config.HashKey{Header: "x-user"}}, options{})
	}
	four, five := mk(4), mk(5)
	const keys = 20000
	moved := 0
	share := map[string]int{}
	for i := range keys {
		a, b := four.Pick(key(i), nil), four.Pick(key(i), nil)
		if a != b {
			t.Fatalf("key %d mapped to %s then %s", i, a.Host, b.Host)
		}
		c := five.Pick(key(i), nil)
		share[c.Host]++
		if a.Host != c.Host {
			moved++
		}
	}
	frac := float64(moved) / keys
	t.Logf("adding a 5th target to 4 moved %.1f%% of %d keys; shares %v", frac*100, keys, share)
	if frac < 0.15 || frac > 0.26 {
		t.Errorf("moved %.3f of keys, want about 1/5", frac)
	}
	for h, n := range share {
		if n < keys/5*8/10 || n > keys/5*12/10 {
			t.Errorf("target %s has %d of %d keys, want about a fifth", h, n, keys)
		}
	}
	// A key whose target is out goes to one other target, consistently.
	target := four.Pick(key(7), nil)
	target.state.Store(stateEjected)
	alt := four.Pick(key(7), nil)
	for range 10 {
		if got := four.Pick(key(7), nil); got != alt || got == target {
			t.Fatalf("fallback for an ejected target is not stable: %s then %s", alt.Host, got.Host)
		}
	}
}

func TestHashKeySources(t *testing.T) {
	r, _ := http.NewRequest("GET", "http://x/a?b=1&user=u42&c=3", nil)
	r.Header.Set("Cookie", "a=1; sid=abc ; z=2")
	x := &filter.Exchange{Request: r, ClientIP: netip.MustParseAddr("192.0.2.1")}
	x.Params = append(x.Params, struct{ Name, Value string }{"id", "42"})
	for _, hk := range []config.HashKey{{Query: "user"}, {Cookie: "sid"}, {ClientIP: true}, {Param: "id"}} {
		f := newKeyFunc(&hk)
		h1, ok := f(x)
		if !ok {
			t.Errorf("%+v: no key found", hk)
		}
		if h2, _ := f(x); h1 != h2 {
			t.Errorf("%+v: key not stable", hk)
		}
	}
	if _, ok := newKeyFunc(&config.HashKey{Query: "nope"})(x); ok {
		t.Error("a missing query parameter must give no key")
	}
}

// healthServer answers /healthz with the status it is told.
type healthServer struct {
	*httptest.Server
	status atomic.Int32
}

func newHealthServer(t *testing.T) *healthServer {
	h := &healthServer{}
	h.status.Store(200)
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(h.status.Load()))
	}))
	t.Cleanup(h.Close)
	return h
}

func TestActiveHealthTransitions(t *testing.T) {
	a, b := newHealthServer(t), newHealthServer(t)
	clk := newFakeClock()
	c := &config.Upstream{
		Targets:   []config.Target{{URL: a.URL, Weight: 1}, {URL: b.URL, Weight: 1}},
		SlowStart: config.Duration(10 * time.Second),
		Health: config.Health{Active: &config.ActiveHealth{
			Path: "/healthz", Interval: config.Duration(time.Second), Timeout: config.Duration(time.Second),
			HealthyThreshold: 2, UnhealthyThreshold: 3, Statuses: []string{"200-299"},
		}},
	}
	u := newWith(t, c, options{clock: clk})
	ta := u.Targets()[0]
	ctx := context.Background()

	a.status.Store(503)
	for i := 1; i <= 3; i++ {
		if !ta.Available() {
			t.Fatalf("down after %d failed checks, want after 3", i-1)
		}
		ch := u.Changed()
		u.CheckNow(ctx)
		if i == 3 {
			select {
			case <-ch:
			case <-time.After(5 * time.Second):
				t.Fatal("no state change notification after the 3rd failed check")
			}
		}
	}
	if ta.Available() {
		t.Fatal("still available after 3 failed checks")
	}
	st := u.Status().Targets[0]
	if st.Healthy || st.LastCheck != "status 503" {
		t.Errorf("status %+v: want unhealthy with the last check's reason", st)
	}
	for range 20 {
		if u.Pick(nil, nil) == ta {
			t.Fatal("an unhealthy target was picked")
		}
	}

	a.status.Store(200)
	u.CheckNow(ctx)
	if ta.Available() {
		t.Fatal("back after 1 passing check, want 2")
	}
	u.CheckNow(ctx)
	if !ta.Available() {
		t.Fatal("not back after 2 passing checks")
	}
	// Slow start: it comes back at a tenth of its share and ramps up.
	now := clk.Now().UnixNano()
	if r := ta.ramp(now, c.SlowStart.D()); r != minRamp {
		t.Errorf("ramp right after coming back %v, want %v", r, minRamp)
	}
	if r := ta.ramp(now+int64(5*time.Second), c.SlowStart.D()); r < 0.49 || r > 0.51 {
		t.Errorf("ramp half way %v, want 0.5", r)
	}
	if r := ta.ramp(now+int64(11*time.Second), c.SlowStart.D()); r != 1 {
		t.Errorf("ramp after the window %v, want 1", r)
	}

	// An unreachable target fails too.
	b.Close()
	for range 3 {
		u.CheckNow(ctx)
	}
	if u.Targets()[1].Available() {
		t.Error("an unreachable target is still available")
	}
}

func TestPassiveEjectionBackoffAndCap(t *testing.T) {
	clk := newFakeClock()
	c := &config.Upstream{Targets: targetsN(4), Health: config.Health{Passive: &config.PassiveHealth{
		Failures: 3, Eject: config.Duration(10 * time.Second), MaxEject: config.Duration(25 * time.Second), MaxEjectedPercent: 25,
	}}}
	u := newWith(t, c, options{clock: clk})
	ts := u.Targets()
	fail := func(tg *Target, n int) {
		for range n {
			u.Observe(tg, time.Now(), true)
		}
	}
	fail(ts[0], 2)
	u.Observe(ts[0], time.Now(), false) // a success resets the streak
	fail(ts[0], 2)
	if !ts[0].Available() {
		t.Fatal("ejected without 3 consecutive failures")
	}
	fail(ts[0], 1)
	if ts[0].Available() {
		t.Fatal("not ejected after 3 consecutive failures")
	}
	// 25% of 4: a second target may not be ejected.
	fail(ts[1], 10)
	if !ts[1].Available() {
		t.Error("ejected beyond max_ejected_percent")
	}
	clk.Advance(10 * time.Second)
	if !ts[0].Available() {
		t.Fatal("not back after the first ejection (10s)")
	}
	// The second ejection lasts twice as long, the third is capped at 25s.
	fail(ts[0], 3)
	clk.Advance(19 * time.Second)
	if ts[0].Available() {
		t.Fatal("second ejection ended before 20s")
	}
	clk.Advance(time.Second)
	if !ts[0].Available() {
		t.Fatal("second ejection did not end at 20s")
	}
	fail(ts[0], 3)
	clk.Advance(25 * time.Second)
	if !ts[0].Available() {
		t.Fatal("third ejection not capped at max_eject (25s)")
	}
	if st := u.Status().Targets[0]; st.Ejections != 3 {
		t.Errorf("ejections %d, want 3", st.Ejections)
	}
}

func TestBreakerTransitions(t *testing.T) {
	clk := newFakeClock()
	c := &config.Upstream{Targets: targetsN(1), CircuitBreaker: &config.CircuitBreaker{
		ErrorRatio: 50, MinRequests: 10, Window: config.Duration(10 * time.Second),
		OpenFor: config.Duration(5 * time.Second), HalfOpenProbes: 2,
	}}
	u := newWith(t, c, options{clock: clk})
	run := func(failed bool) *Rejection {
		call, rej := u.Begin()
		if rej != nil {
			return rej
		}
		u.Record(&call, failed, false)
		u.End(&call)
		return nil
	}
	state := func() string { return u.Status().Breaker.State }
	for i := range 9 {
		if rej := run(i%2 == 0); rej != nil {
			t.Fatalf("refused while closed: %v", rej.Reason)
		}
	}
	if state() != "closed" {
		t.Fatal("opened before min_requests")
	}
	run(true) // 10 requests, 6 failed: 60% ≥ 50%
	if state() != "open" {
		t.Fatalf("state %s after 60%% failures, want open", state())
	}
	rej := run(false)
	if rej == nil || rej.RetryAfter != 5*time.Second {
		t.Fatalf("open breaker: rejection %+v, want one with Retry-After 5s", rej)
	}
	clk.Advance(5 * time.Second)
	// Half-open: two probes at once, no third.
	p1, r1 := u.Begin()
	p2, r2 := u.Begin()
	_, r3 := u.Begin()
	if r1 != nil || r2 != nil || r3 == nil || state() != "half-open" {
		t.Fatalf("half-open admitted %v %v %v (state %s), want two probes only", r1, r2, r3, state())
	}
	u.Record(&p1, true, false) // a failed probe opens again
	u.End(&p1)
	u.End(&p2)
	if state() != "open" {
		t.Fatalf("state %s after a failed probe, want open", state())
	}
	clk.Advance(5 * time.Second)
	for range 2 {
		if rej := run(false); rej != nil {
			t.Fatalf("probe refused: %s", rej.Reason)
		}
	}
	if state() != "closed" {
		t.Fatalf("state %s after 2 good probes, want closed", state())
	}
	if got := u.Status().Breaker.Opens; got != 2 {
		t.Errorf("opens %d, want 2", got)
	}
}

// The error ratio slides: failures on both sides of a window boundary count
// together (with fixed windows, 9 + 9 failures around a boundary would each
// stay under min_requests and never open the breaker).
func TestBreakerWindowSlides(t *testing.T) {
	newUp := func() (*Upstream, *fakeClock) {
		clk := newFakeClock()
		c := &config.Upstream{Targets: targetsN(1), CircuitBreaker: &config.CircuitBreaker{
			ErrorRatio: 50, MinRequests: 10, Window: config.Duration(10 * time.Second),
			OpenFor: config.Duration(5 * time.Second), HalfOpenProbes: 1,
		}}
		return newWith(t, c, options{clock: clk}), clk
	}
	fail := func(u *Upstream, n int) {
		for range n {
			call, rej := u.Begin()
			if rej != nil {
				return
			}
			u.Record(&call, true, false)
			u.End(&call)
		}
	}

	u, clk := newUp()
	clk.Advance(9 * time.Second)
	fail(u, 9) // window 1: 9 failures, under min_requests
	clk.Advance(2 * time.Second)
	if st := u.Status().Breaker.State; st != "closed" {
		t.Fatalf("state %s before the second burst", st)
	}
	fail(u, 2) // 1s into window 2: 2 + 0.9 × 9 ≈ 10 failures in the last 10s
	if st := u.Status().Breaker.State; st != "open" {
		t.Errorf("state %s after failures straddling a window boundary, want open", st)
	}

	// Old failures fade: 9 failures, then 2 more 19s later (the previous
	// window covers only 0.1 of the sliding one): 2 + 0.9 < 10.
	u, clk = newUp()
	clk.Advance(9 * time.Second)
	fail(u, 9)
	clk.Advance(10 * time.Second)
	fail(u, 2)
	if st := u.Status().Breaker.State; st != "closed" {
		t.Errorf("state %s after failures 10s apart, want closed", st)
	}
	// More than two windows of quiet: nothing left of them.
	clk.Advance(25 * time.Second)
	fail(u, 7)
	if st := u.Status().Breaker.State; st != "closed" {
		t.Errorf("state %s after a long quiet, want closed (7 < min_requests)", st)
	}
}

func TestConcurrencyLimits(t *testing.T) {
	u := newWith(t, &config.Upstream{Targets: targetsN(1), CircuitBreaker: &config.CircuitBreaker{MaxRequests: 2}}, options{})
	c1, _ := u.Begin()
	c2, _ := u.Begin()
	if _, rej := u.Begin(); rej == nil || rej.RetryAfter == 0 {
		t.Fatalf("third concurrent request admitted (%v), want refused with Retry-After", rej)
	}
	u.End(&c1)
	c3, rej := u.Begin()
	if rej != nil {
		t.Fatal("refused after one ended")
	}
	u.End(&c2)
	u.End(&c3)
	u.End(&c3) // idempotent
	if a := u.active.Load(); a != 0 {
		t.Errorf("active %d after all ended, want 0", a)
	}
}

func TestRetryBudget(t *testing.T) {
	u := newWith(t, &config.Upstream{Targets: targetsN(1)}, options{})
	p := NewRetryPolicy(&config.Retries{Attempts: 3, Budget: 20, MinRetries: 3, Backoff: config.Backoff{Base: config.Duration(10 * time.Millisecond), Max: config.Duration(40 * time.Millisecond)}})
	calls := make([]Call, 100)
	for i := range calls {
		calls[i], _ = u.Begin()
	}
	granted := 0
	for i := range calls {
		if u.AcquireRetry(&calls[i], p) {
			granted++
		}
	}
	if granted != 20 {
		t.Errorf("%d retries in flight granted with 100 active requests and a 20%% budget, want 20", granted)
	}
	for i := range calls {
		u.End(&calls[i])
	}
	// With little traffic, the minimum still allows retries.
	c, _ := u.Begin()
	if !u.AcquireRetry(&c, p) {
		t.Error("min_retries not honored")
	}
	u.End(&c)
	if r := u.retrying.Load(); r != 0 {
		t.Errorf("retries in flight %d after all ended, want 0", r)
	}
	for n := 1; n <= 5; n++ {
		d := p.Backoff(n)
		cap := min(40*time.Millisecond, 10*time.Millisecond<<(n-1))
		if d < cap/2 || d > cap {
			t.Errorf("backoff %d = %v, want within [%v, %v]", n, d, cap/2, cap)
		}
	}
}

func TestDNSRefreshKeepsState(t *testing.T) {
	var addrs atomic.Pointer[[]string]
	set := func(a ...string) { addrs.Store(&a) }
	set("10.0.0.1", "10.0.0.2")
	lookup := func(ctx context.Context, host string) ([]string, error) { return *addrs.Load(), nil }
	c := &config.Upstream{Targets: []config.Target{{URL: "http://svc.internal:8080", Weight: 1}}, DNS: config.DNS{Refresh: config.Duration(time.Second)}}
	var logs strings.Builder
	u := newWith(t, c, options{lookup: lookup, logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ts := u.Targets()
	if len(ts) != 2 || ts[0].URL.Host != "10.0.0.1:8080" || ts[0].Host != "svc.internal:8080" {
		t.Fatalf("targets %v, want one per address with the name as Host", ts)
	}
	ts[0].Begin()
	set("10.0.0.1", "10.0.0.3")
	ch := u.Changed()
	u.RefreshDNS(context.Background())
	select {
	case <-ch:
	default:
		t.Fatal("no change notified after the addresses changed")
	}
	next := u.Targets()
	if len(next) != 2 || next[0] != ts[0] || next[1].URL.Host != "10.0.0.3:8080" {
		t.Errorf("after refresh %v: want 10.0.0.1 kept (same state) and 10.0.0.3 added", next)
	}
	lookupErr := func(ctx context.Context, host string) ([]string, error) { return nil, fmt.Errorf("no DNS") }
	u.lookup = lookupErr
	u.RefreshDNS(context.Background())
	u.RefreshDNS(context.Background())
	if got := u.Targets(); len(got) != 2 || got[0] != next[0] || got[1] != next[1] {
		t.Errorf("a failed lookup changed the targets to %v", got)
	}
	want := DNSStatus{Resolver: "system", Lookups: 4, Failures: 2, Changes: 1, LastError: "svc.internal: no DNS"}
	if got := u.Status().DNS; got != want {
		t.Errorf("DNS status %+v, want %+v", got, want)
	}
	for _, line := range []string{
		`msg="upstream DNS: the name's addresses changed" upstream=u name=svc.internal addresses=10.0.0.1,10.0.0.3 previous=10.0.0.1,10.0.0.2`,
		`msg="upstream DNS: the name does not resolve; keeping its last good addresses" upstream=u name=svc.internal err="no DNS" kept=10.0.0.1:8080,10.0.0.3:8080`,
	} {
		if strings.Count(logs.String(), line) != 1 {
			t.Errorf("log does not hold once %s:\n%s", line, logs.String())
		}
	}
	u.lookup = lookup
	u.RefreshDNS(context.Background())
	if !strings.Contains(logs.String(), `msg="upstream DNS: the name resolves again" upstream=u name=svc.internal addresses=10.0.0.1,10.0.0.3`) {
		t.Errorf("no recovery logged:\n%s", logs.String())
	}
}
