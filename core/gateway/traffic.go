package gateway

import (
	"cmp"
	"context"
	"math"
	"math/bits"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmgate/wasmgate/core/admin"
	"github.com/wasmgate/wasmgate/core/filter"
)

// Traffic history for the admin console: per route, cheap counters on the
// request path and a sampler off it that turns them into a short history
// (requests/s, error rate, p50/p99 latency) in memory. It needs no metrics
// config and no Prometheus: an operator who opens /ui/ sees the last 15
// minutes whatever observability: says.

const (
	// sampleEvery is how often the sampler reads the counters.
	sampleEvery = 2 * time.Second
	// historyLen samples make the window the console charts: 15 minutes.
	historyLen = int(15 * time.Minute / sampleEvery)
	// latencyBuckets: two per power of two of microseconds, up to ~2^31 µs.
	latencyBuckets = 64
)

// routeStats are one route's counters, shared by every snapshot that has a
// route of that name, so a reload does not reset its history. The request
// path only adds to them. A large config has thousands of routes that see
// no traffic: the latency histogram (1 KiB with the sampler's copy) is
// allocated by a route's first request, so an idle route costs a few words.
type routeStats struct {
	requests atomic.Uint64
	errors   atomic.Uint64 // 5xx sent to the client
	latency  atomic.Pointer[latencyCounts]
	// refused counts the requests a filter answered itself (x.RejectedBy),
	// by filter and status: a refusalKey -> *refusalCount. A sync.Map, so
	// counting an already seen pair takes no lock and no allocation. Made
	// by the route's first refusal: a sync.Map allocates its root when
	// first read, and the sampler reads every route's.
	refused atomic.Pointer[sync.Map]

	// The sampler's own state, touched by it alone.
	prevRequests, prevErrors uint64
	history                  *ring // nil until the route has seen traffic
}

// latencyCounts is a route's latency histogram, and the sampler's copy of
// it at the last sample.
type latencyCounts struct {
	n    [latencyBuckets]atomic.Uint64
	prev [latencyBuckets]uint64 // the sampler's
}

// record counts x, which has ended: called deferred by ServeHTTP.
func (st *routeStats) record(x *filter.Exchange) {
	st.requests.Add(1)
	if x.Status >= 500 && x.Status <= 599 {
		st.errors.Add(1)
	}
	lat := st.latency.Load()
	if lat == nil {
		st.latency.CompareAndSwap(nil, new(latencyCounts))
		lat = st.latency.Load()
	}
	lat.n[latencyBucket(time.Since(x.Start))].Add(1)
	if x.RejectedBy != "" {
		st.refuse(x.RejectedBy, x.Status)
	}
}

// refusalKey is a refusing filter and the status it answered with.
type refusalKey struct {
	filter string
	status int
}

// refusalCount is one refusalKey's count, and the sampler's view of it.
type refusalCount struct {
	n    atomic.Uint64
	prev uint64  // the sampler's
	rate float32 // per second over the last interval; the sampler's
}

func (st *routeStats) refuse(filter string, status int) {
	k := refusalKey{filter, status}
	m := st.refused.Load()
	if m == nil {
		st.refused.CompareAndSwap(nil, new(sync.Map))
		m = st.refused.Load()
	}
	c, ok := m.Load(k)
	if !ok {
		c, _ = m.LoadOrStore(k, new(refusalCount))
	}
	c.(*refusalCount).n.Add(1)
}

// latencyBucket is d's bucket: two per power of two of microseconds, the
// second for the upper half of the octave (the bit below the top one).
func latencyBucket(d time.Duration) int {
	us := uint64(max(d.Microseconds(), 0))
	n := bits.Len64(us)
	if n < 2 {
		return n // 0 µs and 1 µs
	}
	b := 2*n - 2 + int(us>>(n-2)&1)
	return min(b, latencyBuckets-1)
}

// bucketBounds returns the bucket's latency range in microseconds.
func bucketBounds(b int) (lo, hi float64) {
	if b < 2 {
		return float64(b), float64(b + 1)
	}
	n := (b + 2) / 2 // bits.Len of the bucket's values
	base := math.Ldexp(1, n-1)
	if b%2 == 0 {
		return base, base * 1.5
	}
	return base * 1.5, base * 2
}

// quantile estimates the q-quantile, in milliseconds, of the latencies
// counted in counts (total of them), interpolating inside the bucket.
func quantile(counts *[latencyBuckets]uint64, total uint64, q float64) float64 {
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	var seen float64
	for b, c := range counts {
		if c == 0 {
			continue
		}
		if seen+float64(c) >= rank {
			lo, hi := bucketBounds(b)
			return (lo + (hi-lo)*(rank-seen)/float64(c)) / 1000
		}
		seen += float64(c)
	}
	lo, _ := bucketBounds(latencyBuckets - 1)
	return lo / 1000
}

// sample is one interval of a route's traffic.
type sample struct {
	rps, errorRate, p50, p99 float32
}

// ring holds the last historyLen samples; the newest is at next-1.
type ring struct {
	s    [historyLen]sample
	next int
	n    int
}

func (r *ring) add(s sample) {
	r.s[r.next] = s
	r.next = (r.next + 1) % historyLen
	r.n = min(r.n+1, historyLen)
}

// last returns up to k samples, oldest first.
func (r *ring) last(k int) []sample {
	k = min(k, r.n)
	out := make([]sample, k)
	for i := range k {
		out[i] = r.s[(r.next-k+i+historyLen)%historyLen]
	}
	return out
}

// traffic is the gateway's traffic history: every route's counters by
// name, and the samples taken of them.
type traffic struct {
	mu     sync.Mutex
	routes map[string]*routeStats
	total  ring
	times  [historyLen]int64 // Unix seconds of each sample, at total's positions
	taken  int               // samples taken so far
	live   func() map[string]bool
}

func newTraffic(live func() map[string]bool) *traffic {
	return &traffic{routes: map[string]*routeStats{}, live: live}
}

// stats returns the counters of the route called name, creating them.
func (t *traffic) stats(name string) *routeStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.routes[name]
	if st == nil {
		st = &routeStats{}
		t.routes[name] = st
	}
	return st
}

// run samples every interval until ctx ends.
func (t *traffic) run(ctx context.Context, interval time.Duration) {
	every(ctx, interval, func(now time.Time) { t.sample(now, interval) })
}

// every calls f with the time of each tick of interval until ctx ends.
func every(ctx context.Context, interval time.Duration, f func(now time.Time)) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			f(now)
		}
	}
}

// sample reads every route's counters and appends the interval's rates.
// Routes no longer configured are forgotten. A pass is linear in the
// routes: a set of the live names, not a search of their list per route
// (that was quadratic, over a second at 10,000 routes).
func (t *traffic) sample(now time.Time, interval time.Duration) {
	live := t.live()
	t.mu.Lock()
	defer t.mu.Unlock()
	for name := range t.routes {
		if !live[name] {
			delete(t.routes, name)
		}
	}
	secs := interval.Seconds()
	var total [latencyBuckets]uint64
	var allReq, allErr uint64
	for _, st := range t.routes {
		req := st.requests.Load()
		errs := st.errors.Load()
		var lat [latencyBuckets]uint64
		if counts := st.latency.Load(); counts != nil {
			for b := range lat {
				v := counts.n[b].Load()
				lat[b] = v - counts.prev[b]
				counts.prev[b] = v
				total[b] += lat[b]
			}
		}
		if m := st.refused.Load(); m != nil {
			m.Range(func(_, v any) bool {
				c := v.(*refusalCount)
				n := c.n.Load()
				c.rate, c.prev = float32(float64(n-c.prev)/secs), n
				return true
			})
		}
		dReq, dErr := req-st.prevRequests, errs-st.prevErrors
		st.prevRequests, st.prevErrors = req, errs
		allReq += dReq
		allErr += dErr
		if st.history == nil {
			if dReq == 0 {
				continue
			}
			st.history = &ring{}
			// Before its first request the route had none: pad, so its
			// series lines up with the others'.
			for range min(t.taken, historyLen-1) {
				st.history.add(sample{})
			}
		}
		st.history.add(rates(dReq, dErr, &lat, secs))
	}
	t.times[t.total.next] = now.Unix()
	t.total.add(rates(allReq, allErr, &total, secs))
	t.taken++
}

func rates(req, errs uint64, lat *[latencyBuckets]uint64, secs float64) sample {
	s := sample{rps: float32(float64(req) / secs)}
	if req > 0 {
		s.errorRate = float32(float64(errs) / float64(req))
		s.p50 = float32(quantile(lat, req, 0.50))
		s.p99 = float32(quantile(lat, req, 0.99))
	}
	return s
}

// report is the history as the admin API shows it: the total series, each
// route's latest sample, and the series of the route called route (if any;
// ok is false when no such route is configured).
func (t *traffic) report(route string) (rep admin.Traffic, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rep = admin.Traffic{
		IntervalSeconds: sampleEvery.Seconds(),
		WindowSeconds:   (time.Duration(historyLen) * sampleEvery).Seconds(),
		Total:           t.series(&t.total),
		Routes:          []admin.RouteTraffic{},
	}
	for name, st := range t.routes {
		if st.history == nil {
			continue
		}
		last := st.history.last(1)[0]
		rep.Routes = append(rep.Routes, admin.RouteTraffic{
			Name: name, RPS: round(last.rps), ErrorRate: round(last.errorRate),
			P50Millis: round(last.p50), P99Millis: round(last.p99),
		})
	}
	slices.SortFunc(rep.Routes, func(a, b admin.RouteTraffic) int {
		if a.RPS != b.RPS {
			return cmpDesc(a.RPS, b.RPS)
		}
		return cmpAsc(a.Name, b.Name)
	})
	if route == "" {
		return rep, true
	}
	st, ok := t.routes[route]
	if !ok {
		return rep, false
	}
	rep.Route = route
	if st.history != nil {
		s := t.series(st.history)
		rep.Series = &s
	} else {
		s := t.series(&ring{})
		rep.Series = &s
	}
	return rep, true
}

// refusals are the counts of refused requests of the configured routes,
// busiest first.
func (t *traffic) refusals() admin.Refusals {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := admin.Refusals{Refusals: []admin.Refusal{}}
	for name, st := range t.routes {
		m := st.refused.Load()
		if m == nil {
			continue
		}
		m.Range(func(k, v any) bool {
			key, c := k.(refusalKey), v.(*refusalCount)
			r := admin.Refusal{Route: name, Filter: key.filter, Status: key.status, Total: c.n.Load(), PerSecond: round(c.rate)}
			switch key.status {
			case http.StatusUnauthorized, http.StatusForbidden:
				r.Kind = "auth"
				out.Auth += r.Total
			case http.StatusTooManyRequests:
				r.Kind = "rate_limit"
				out.RateLimit += r.Total
			default:
				r.Kind = "other"
				out.Other += r.Total
			}
			out.Refusals = append(out.Refusals, r)
			return true
		})
	}
	slices.SortFunc(out.Refusals, func(a, b admin.Refusal) int {
		if a.Total != b.Total {
			return cmp.Compare(b.Total, a.Total)
		}
		return cmp.Or(cmp.Compare(a.Route, b.Route), cmp.Compare(a.Filter, b.Filter), cmp.Compare(a.Status, b.Status))
	})
	return out
}

// series is r's samples beside their times. r's newest sample was taken
// with total's newest: every ring gets one per sample once it exists.
func (t *traffic) series(r *ring) admin.Series {
	samples := r.last(t.total.n)
	s := admin.Series{
		Time: make([]int64, len(samples)), RPS: make([]float64, len(samples)),
		ErrorRate: make([]float64, len(samples)), P50Millis: make([]float64, len(samples)), P99Millis: make([]float64, len(samples)),
	}
	for i, x := range samples {
		s.Time[i] = t.times[(t.total.next-len(samples)+i+historyLen)%historyLen]
		s.RPS[i], s.ErrorRate[i] = round(x.rps), round(x.errorRate)
		s.P50Millis[i], s.P99Millis[i] = round(x.p50), round(x.p99)
	}
	return s
}

// round keeps three decimals: the charts need no more, and the JSON stays short.
func round(f float32) float64 { return math.Round(float64(f)*1000) / 1000 }

func cmpDesc(a, b float64) int {
	if a > b {
		return -1
	}
	return 1
}

func cmpAsc(a, b string) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}
