package upstream

import (
	"math"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/wasmgate/wasmgate/core/upstream/internal/h1"
)

// Target is one backend address, with the live state the balancers read:
// health, in-flight requests and a latency estimate. Its identity (URL,
// Host, Weight) never changes; its state is updated lock-free.
type Target struct {
	URL    *url.URL // scheme and host; Path is a base path prefixed to every request
	Host   string   // the Host header sent unless the route preserves the client's
	Weight int

	key       string          // scheme://host[/base], what state is carried over by
	url       string          // URL as text, for Status
	transport *http.Transport // std engine
	pool      *h1.Pool        // native engine

	state    atomic.Uint32 // stateDown | stateEjected; 0 is available
	inflight atomic.Int64

	// Peak EWMA of response-header latency, in nanoseconds (float64 bits),
	// and when it was last updated (unix nanos).
	ewma  atomic.Uint64
	stamp atomic.Int64

	// Passive health: consecutive failures, ejections so far (the next
	// ejection lasts that many times the base), when the last one ended.
	fails      atomic.Int32
	ejections  atomic.Int32
	ejectedTil atomic.Int64
	backAt     atomic.Int64
	ejectTotal atomic.Uint64 // ejections since the target was built (monotonic)

	// Active health: consecutive passes and failures, owned by the checker.
	passes, failsActive atomic.Int32
	lastCheck           atomic.Pointer[string] // why the last check failed; nil after a pass

	// rampFrom is when the target came back (unix nanos), for slow start;
	// 0 when it takes its full share.
	rampFrom atomic.Int64

	requests atomic.Uint64
	failures atomic.Uint64
}

func newTarget(u *url.URL, host string, weight int) *Target {
	return &Target{URL: u, Host: host, Weight: weight, key: u.Scheme + "://" + u.Host + u.Path, url: u.String()}
}

const (
	stateDown    uint32 = 1 << iota // failed active health checks
	stateEjected                    // ejected by passive outlier detection
)

// Available reports whether the balancers may pick the target.
func (t *Target) Available() bool { return t.state.Load() == 0 }

// InFlight is the number of requests the target is serving now.
func (t *Target) InFlight() int64 { return t.inflight.Load() }

// Begin counts a request the target now serves; End ends it.
func (t *Target) Begin() { t.inflight.Add(1); t.requests.Add(1) }

// End ends a request counted by Begin.
func (t *Target) End() { t.inflight.Add(-1) }

// ewmaDecay is Finagle's default: a latency sample's weight halves in about
// seven seconds, so a target that was slow is tried again within a minute.
const ewmaDecay = 10 * time.Second

// observe folds one latency sample into the peak EWMA: a sample above the
// average replaces it at once (a target that slows down loses traffic on
// the next pick); one below decays toward it. Concurrent updates may lose a
// sample; the estimate stays sound.
func (t *Target) observe(now int64, rtt time.Duration) {
	sample := float64(rtt)
	for {
		old := t.ewma.Load()
		cur := math.Float64frombits(old)
		next := sample
		if sample < cur {
			w := math.Exp(-float64(now-t.stamp.Load()) / float64(ewmaDecay))
			next = cur*w + sample*(1-w)
		}
		if t.ewma.CompareAndSwap(old, math.Float64bits(next)) {
			t.stamp.Store(now)
			return
		}
	}
}

// EWMA is the current latency estimate, decayed to now.
func (t *Target) EWMA(now int64) time.Duration {
	return time.Duration(t.decayed(now))
}

func (t *Target) decayed(now int64) float64 {
	e := math.Float64frombits(t.ewma.Load())
	if e == 0 {
		return 0
	}
	if dt := now - t.stamp.Load(); dt > 0 {
		e *= decay(float64(dt) / float64(ewmaDecay))
	}
	return e
}

// decay approximates exp(-x) for x >= 0 by 1/(1 + x + x²/2 + x³/6), within
// 2% where it matters (x < 1) and monotone beyond: close enough to rank two
// targets, at a tenth of math.Exp's cost on the pick path.
func decay(x float64) float64 {
	return 1 / (1 + x*(1+x*(0.5+x*(1.0/6))))
}

// penalty is the cost of a target with requests in flight and no latency
// sample yet: it must not take everything until its first answer.
const penalty = float64(time.Minute)

// cost is what p2c_ewma minimizes: expected latency times the queue the
// request would join, per unit of weight.
func (t *Target) cost(now int64, ramp float64) float64 {
	in := float64(t.inflight.Load())
	e := t.decayed(now)
	if e == 0 {
		if in > 0 {
			return penalty
		}
		return 0
	}
	return e * (in + 1) / (float64(t.Weight) * ramp)
}

// ramp is the share of its weight a target takes during slow start, from
// minRamp up to 1 over window.
func (t *Target) ramp(now int64, window time.Duration) float64 {
	from := t.rampFrom.Load()
	if from == 0 {
		return 1
	}
	el := time.Duration(now - from)
	if el >= window || window <= 0 {
		t.rampFrom.CompareAndSwap(from, 0)
		return 1
	}
	return max(minRamp, float64(el)/float64(window))
}

// minRamp keeps a target coming back with slow start from being starved.
const minRamp = 0.1
