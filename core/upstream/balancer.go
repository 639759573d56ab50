package upstream

import (
	"errors"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
)

// A balancer picks one target of a set for one request. It must skip what
// p.ok refuses (unavailable targets, the target a retry avoids) and return
// nil when nothing is left; Upstream.Pick then relaxes the request. Every
// pick is lock-free and allocation-free.
type balancer interface {
	pick(s *targetSet, p pickReq) *Target
}

// pickReq is one pick's inputs.
type pickReq struct {
	hash   uint64 // the request's key, for consistent_hash
	hasKey bool
	avoid  *Target // the target a retry just failed on
	any    bool    // panic mode: health is ignored
	load   int64   // the upstream's requests in flight, for bounded loads
}

func (p *pickReq) ok(t *Target) bool { return t != p.avoid && (p.any || t.Available()) }

// targetSet is the targets of an upstream at one time and their balancer.
// DNS refreshes swap in a new set; a set is never modified.
type targetSet struct {
	targets   []*Target
	bal       balancer
	slowStart time.Duration
	now       *atomic.Int64 // the upstream's coarse clock, see now()
}

// now is the time picks decay latency estimates and ramp slow starts by:
// the end of the upstream's latest attempt, not a clock read, which costs
// more than a whole pick on some machines. It moves with traffic, and
// without traffic there is nothing to pick.
func (s *targetSet) nowNano() int64 {
	if n := s.now.Load(); n != 0 {
		return n
	}
	return time.Now().UnixNano()
}

// rampOK admits a target in slow start with the probability of its ramp,
// for the balancers that do not weigh by cost.
func (s *targetSet) rampOK(t *Target) bool {
	if s.slowStart == 0 || t.rampFrom.Load() == 0 {
		return true
	}
	f := t.ramp(s.nowNano(), s.slowStart)
	return f >= 1 || rand.Float64() < f
}

// balancers are the values of upstreams.*.balancer, in the order errors
// list them: the one list of names, beside the code each name builds. A
// keyed balancer picks by a request key, so its upstream needs a hash block.
var balancers = []struct {
	name  string
	keyed bool
	build func(targets []*Target, boundedLoad float64) balancer
}{
	{"round_robin", false, func(ts []*Target, _ float64) balancer { return newSmoothWeighted(ts) }},
	{"weighted", false, func(ts []*Target, _ float64) balancer { return newSmoothWeighted(ts) }},
	{"least_conn", false, func([]*Target, float64) balancer { return &leastConn{} }},
	{"p2c_ewma", false, func([]*Target, float64) balancer { return p2c{} }},
	{"consistent_hash", true, func(ts []*Target, b float64) balancer { return newMaglev(ts, b) }},
}

// balancerIndex finds a balancer by name; config validation (checkPolicy)
// refused any other, and an empty name is the default, round_robin.
func balancerIndex(name string) (int, bool) {
	for i, b := range balancers {
		if b.name == name {
			return i, true
		}
	}
	return 0, false
}

func newBalancer(name string, targets []*Target, boundedLoad float64) balancer {
	i, _ := balancerIndex(name)
	return balancers[i].build(targets, boundedLoad)
}

func init() { config.RegisterUpstreamCheck(checkPolicy) }

// checkPolicy is the config validation of what this package builds from an
// upstream block's balancer and hash fields; config.Load runs it with every
// other check, so build trusts what it gets. Paths are relative to the
// upstream block.
func checkPolicy(c *config.Upstream) error {
	var errs []error
	i, ok := balancerIndex(c.Balancer)
	if !ok {
		names := make([]string, len(balancers))
		for i, b := range balancers {
			names[i] = b.name
		}
		errs = append(errs, config.FieldErr("balancer", "%q is not valid; valid values: %s", c.Balancer, strings.Join(names, ", ")))
	}
	switch keyed := ok && balancers[i].keyed; {
	case keyed && c.Hash == nil:
		errs = append(errs, config.FieldErr("hash", "%s needs a key, e.g. hash: {header: X-User-ID} (or cookie, query, param, client_ip: true)", c.Balancer))
	case c.Hash != nil && !keyed:
		var names []string
		for _, b := range balancers {
			if b.keyed {
				names = append(names, b.name)
			}
		}
		errs = append(errs, config.FieldErr("hash", "hash is only used by balancer: %s (this upstream uses %s)", strings.Join(names, ", "), c.Balancer))
	case c.Hash != nil:
		errs = append(errs, checkHashKey(c.Hash)...)
	}
	return errors.Join(errs...)
}

// smoothWeighted is nginx's smooth weighted round robin, precomputed: the
// pick sequence for one full cycle is built once, so a pick is one atomic
// increment and an index, with no lock and no allocation. With equal weights
// it is plain round robin.
type smoothWeighted struct {
	seq  []*Target
	next atomic.Uint64
}

// maxCycle bounds the precomputed sequence; weights are scaled down to fit.
const maxCycle = 4096

func newSmoothWeighted(targets []*Target) *smoothWeighted {
	weights := make([]int, len(targets))
	total := 0
	for i, t := range targets {
		weights[i] = t.Weight
		total += t.Weight
	}
	if total > maxCycle {
		scale := float64(maxCycle) / float64(total)
		total = 0
		for i := range weights {
			weights[i] = max(1, int(float64(weights[i])*scale))
			total += weights[i]
		}
	}
	current := make([]int, len(targets))
	seq := make([]*Target, 0, total)
	for range total {
		best := 0
		for i := range targets {
			current[i] += weights[i]
			if current[i] > current[best] {
				best = i
			}
		}
		current[best] -= total
		seq = append(seq, targets[best])
	}
	return &smoothWeighted{seq: seq}
}

func (b *smoothWeighted) pick(s *targetSet, p pickReq) *Target {
	// A skipped target advances the shared sequence again, so its share
	// spreads over the others instead of landing on its successor.
	for range 2*len(s.targets) + 2 {
		n := b.next.Add(1) - 1
		if t := b.seq[n%uint64(len(b.seq))]; p.ok(t) && s.rampOK(t) {
			return t
		}
	}
	return firstOK(s, p)
}

// firstOK is the last resort of the sequence-based balancers.
func firstOK(s *targetSet, p pickReq) *Target {
	for _, t := range s.targets {
		if p.ok(t) {
			return t
		}
	}
	return nil
}

// leastConn picks the target with the fewest requests in flight per unit
// of weight; ties go round robin, from a rotating start.
type leastConn struct{ next atomic.Uint64 }

func (b *leastConn) pick(s *targetSet, p pickReq) *Target {
	n := len(s.targets)
	start := int(b.next.Add(1) % uint64(n))
	var best *Target
	bestLoad := 0.0
	var now int64
	for i := range n {
		t := s.targets[(start+i)%n]
		if !p.ok(t) {
			continue
		}
		w := float64(t.Weight)
		if s.slowStart > 0 && t.rampFrom.Load() != 0 {
			if now == 0 {
				now = s.nowNano()
			}
			w *= t.ramp(now, s.slowStart)
		}
		if load := float64(t.inflight.Load()) / w; best == nil || load < bestLoad {
			best, bestLoad = t, load
		}
	}
	return best
}

// p2c is the power of two choices over peak-EWMA cost (Finagle, Linkerd):
// two distinct random targets, the cheaper one wins. A slow target loses
// nearly every comparison at once, and is tried again as its estimate
// decays. Slow start divides the weight, so the cost rises.
type p2c struct{}

func (p2c) pick(s *targetSet, p pickReq) *Target {
	n := len(s.targets)
	if n == 1 {
		if t := s.targets[0]; p.ok(t) {
			return t
		}
		return nil
	}
	now := s.nowNano()
	for range 4 {
		i := rand.IntN(n)
		j := rand.IntN(n - 1)
		if j >= i {
			j++
		}
		a, b := s.targets[i], s.targets[j]
		okA, okB := p.ok(a), p.ok(b)
		switch {
		case okA && okB:
			if s.cost(b, now) < s.cost(a, now) {
				return b
			}
			return a
		case okA:
			return a
		case okB:
			return b
		}
	}
	// Most targets are out: the cheapest of what is left.
	var best *Target
	bestCost := 0.0
	for _, t := range s.targets {
		if !p.ok(t) {
			continue
		}
		if c := s.cost(t, now); best == nil || c < bestCost {
			best, bestCost = t, c
		}
	}
	return best
}

func (s *targetSet) cost(t *Target, now int64) float64 {
	ramp := 1.0
	if s.slowStart > 0 && t.rampFrom.Load() != 0 {
		ramp = t.ramp(now, s.slowStart)
	}
	return t.cost(now, ramp)
}
