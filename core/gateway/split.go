package gateway

import (
	"math/bits"
	"net/http"
	"sync/atomic"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/upstream"
)

// A split target shares a route's traffic across upstreams by weight, for
// canary releases (config/split.go). Which side a request goes to:
//
//  1. split_force: a header or cookie whose value names a side's upstream
//     takes that side, so a tester can reach the canary on purpose;
//  2. split_by: a request with the key goes where the key's hash falls.
//     The hash (keyHash) is the same on every gateway instance and across
//     reloads, and maps the key to a point in [0, 1) that the cumulative
//     weights divide: raising the canary from 5% to 10% moves only clients
//     from the stable side to the canary, never back;
//  3. otherwise a per-route counter walks the weights' slots in a fixed
//     interleaved order, so every run of total-weight requests is split
//     exactly (95 and 5 of every 100), without randomness.
type split struct {
	sides  []splitSide
	total  uint64
	stride uint64 // coprime to total: i*stride mod total visits every slot
	next   atomic.Uint64

	byHeader, byCookie       string // canonical header name / cookie name
	byConsumer               bool
	forceHeader, forceCookie string
}

type splitSide struct {
	up    *upstream.Upstream
	upper uint64 // cumulative weight: this side takes slots below it
	// requests by how the side was chosen: weight, key, force
	byWeight, byKey, byForce *filter.Counter
}

var mSplit = filter.Metric{Name: "wasmgate.route.split.requests", Unit: "{request}",
	Help: "Requests of split routes, by route, upstream (the side) and how the side was chosen (weight, key, force)."}

// newSplit compiles a route's split; upstreams are the snapshot's (all
// present: the config was validated and the upstreams built).
func (b *builder) newSplit(rc *config.Route, ups map[string]*upstream.Upstream) *split {
	sp := &split{}
	for _, t := range rc.Split {
		sp.total += uint64(t.Weight)
		side := splitSide{up: ups[t.Upstream], upper: sp.total}
		if side.up == nil {
			return nil // failed to build; already reported
		}
		count := func(by string) *filter.Counter {
			if b.meter == nil {
				return new(filter.Counter)
			}
			return b.meter.Counter(mSplit, filter.Label{Key: "route", Value: rc.Name},
				filter.Label{Key: "upstream", Value: t.Upstream}, filter.Label{Key: "by", Value: by})
		}
		side.byWeight, side.byKey, side.byForce = count("weight"), count("key"), count("force")
		sp.sides = append(sp.sides, side)
	}
	sp.stride = coprimeStride(sp.total)
	if k := rc.SplitBy; k != nil {
		sp.byHeader, sp.byCookie, sp.byConsumer = http.CanonicalHeaderKey(k.Header), k.Cookie, k.Consumer
	}
	if f := rc.SplitForce; f != nil {
		sp.forceHeader, sp.forceCookie = http.CanonicalHeaderKey(f.Header), f.Cookie
	}
	return sp
}

// coprimeStride is a step near the golden ratio of n that shares no factor
// with it: stepping through n slots by it visits each once per n steps,
// interleaving the sides (95/5 does not send 95 in a row, then 5).
func coprimeStride(n uint64) uint64 {
	if n <= 2 {
		return 1
	}
	s := max(n*618/1000, 1)
	for gcd(s, n) != 1 {
		s++
	}
	return s
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// pick chooses the request's side.
func (sp *split) pick(x *filter.Exchange) *upstream.Upstream {
	r := x.Request
	if v := sp.forced(r); v != "" {
		for i := range sp.sides {
			if s := &sp.sides[i]; s.up.Name == v {
				s.byForce.Inc()
				return s.up
			}
		}
	}
	if key, ok := sp.key(x); ok {
		slot, _ := bits.Mul64(keyHash(key), sp.total) // floor(hash/2^64 * total)
		s := sp.side(slot)
		s.byKey.Inc()
		return s.up
	}
	slot := (sp.next.Add(1) - 1) % sp.total * sp.stride % sp.total
	s := sp.side(slot)
	s.byWeight.Inc()
	return s.up
}

// keyHash is FNV-1a of the key, finished with MurmurHash3's fmix64: FNV's
// high bits, which pick the side, barely change between keys that differ
// in their last bytes (user-1, user-2, ...). Both are fixed functions, so
// a key maps to the same point on every instance, forever.
func keyHash(key string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

func (sp *split) side(slot uint64) *splitSide {
	for i := range sp.sides {
		if slot < sp.sides[i].upper {
			return &sp.sides[i]
		}
	}
	return &sp.sides[len(sp.sides)-1]
}

func (sp *split) forced(r *http.Request) string {
	switch {
	case sp.forceHeader != "":
		if v := r.Header[sp.forceHeader]; len(v) > 0 {
			return v[0]
		}
	case sp.forceCookie != "":
		if c, err := r.Cookie(sp.forceCookie); err == nil {
			return c.Value
		}
	}
	return ""
}

func (sp *split) key(x *filter.Exchange) (string, bool) {
	switch {
	case sp.byHeader != "":
		if v := x.Request.Header[sp.byHeader]; len(v) > 0 && v[0] != "" {
			return v[0], true
		}
	case sp.byCookie != "":
		if c, err := x.Request.Cookie(sp.byCookie); err == nil && c.Value != "" {
			return c.Value, true
		}
	case sp.byConsumer:
		if x.Consumer != nil {
			return x.Consumer.Name, true
		}
	}
	return "", false
}
