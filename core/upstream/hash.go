package upstream

import (
	"math"
	"math/rand/v2"
	"net/http"
	"strings"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
)

// maglev is consistent hashing with Google's Maglev lookup table: each
// target fills slots of a prime-sized table in the order of its own
// permutation (derived from its URL alone), taking turns in proportion to
// weight. A pick is one hash and one index. Adding or removing one of N
// targets moves about 1/N of the keys, since the others keep their
// permutations. Keys are hashed with FNV-1a, not a per-process seed, so
// every gateway instance maps a key to the same target.
//
// A key whose target is unavailable (or, with bounded loads, above its cap)
// is rehashed to a next choice a few times, the same for every request
// with that key, so it keeps landing on one target while the first is out.
type maglev struct {
	table   []int32
	bounded float64
}

// maglevPrimes are the table sizes; the smallest at least 100 slots per
// target (and at least 4093) is used, so shares stay within about 1%.
var maglevPrimes = []int{4093, 8191, 16381, 32749, 65521}

func newMaglev(targets []*Target, bounded float64) *maglev {
	n := len(targets)
	m := maglevPrimes[len(maglevPrimes)-1]
	for _, p := range maglevPrimes {
		if p >= 100*n {
			m = p
			break
		}
	}
	offset := make([]int, n)
	skip := make([]int, n)
	next := make([]int, n)
	credit := make([]float64, n)
	maxW := 1
	for i, t := range targets {
		h := hashString(t.key)
		offset[i] = int(h % uint64(m))
		skip[i] = int(mix(h)%uint64(m-1)) + 1
		maxW = max(maxW, t.Weight)
	}
	table := make([]int32, m)
	for i := range table {
		table[i] = -1
	}
	for filled := 0; filled < m; {
		for i, t := range targets {
			credit[i] += float64(t.Weight) / float64(maxW)
			if credit[i] < 1 {
				continue
			}
			credit[i]--
			c := (offset[i] + next[i]*skip[i]) % m
			for table[c] >= 0 {
				next[i]++
				c = (offset[i] + next[i]*skip[i]) % m
			}
			table[c] = int32(i)
			next[i]++
			if filled++; filled == m {
				break
			}
		}
	}
	return &maglev{table: table, bounded: bounded}
}

// maglevProbes is how many rehashes a key gets before a linear scan.
const maglevProbes = 8

func (b *maglev) pick(s *targetSet, p pickReq) *Target {
	n := len(s.targets)
	if !p.hasKey {
		// No key to be consistent about: spread.
		i := rand.IntN(n)
		for k := range n {
			if t := s.targets[(i+k)%n]; p.ok(t) {
				return t
			}
		}
		return nil
	}
	limit := int64(math.MaxInt64)
	if b.bounded > 0 {
		limit = int64(math.Ceil(b.bounded * float64(p.load+1) / float64(n)))
	}
	h := p.hash
	for range maglevProbes {
		t := s.targets[b.table[h%uint64(len(b.table))]]
		if p.ok(t) && t.inflight.Load() < limit {
			return t
		}
		h = mix(h + 1)
	}
	start := int(b.table[p.hash%uint64(len(b.table))])
	for k := range n {
		if t := s.targets[(start+k)%n]; p.ok(t) && t.inflight.Load() < limit {
			return t
		}
	}
	if b.bounded > 0 {
		for k := range n { // everyone is at the cap: ignore it
			if t := s.targets[(start+k)%n]; p.ok(t) {
				return t
			}
		}
	}
	return nil
}

// hashString is 64-bit FNV-1a with a final mix: stable across processes,
// allocation-free.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return mix(h)
}

// mix is splitmix64's finalizer: it spreads FNV's weak low bits.
func mix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// checkHashKey is the config validation of a hash block: newKeyFunc reads
// exactly one key source.
func checkHashKey(h *config.HashKey) []error {
	var errs []error
	n := 0
	for _, s := range []string{h.Header, h.Cookie, h.Query, h.Param} {
		if s != "" {
			n++
		}
	}
	if h.ClientIP {
		n++
	}
	if n != 1 {
		errs = append(errs, config.FieldErr("hash", "set exactly one of header, cookie, query, param, client_ip"))
	}
	if h.BoundedLoad != 0 && h.BoundedLoad < 1 {
		errs = append(errs, config.FieldErr("hash.bounded_load", "%g is below 1; a target may take this factor of the mean load, e.g. 1.25 (0 turns the cap off)", h.BoundedLoad))
	}
	return errs
}

// keyFunc extracts a request's hash key; false when the request has none.
type keyFunc func(x *filter.Exchange) (uint64, bool)

func newKeyFunc(h *config.HashKey) keyFunc {
	switch {
	case h == nil:
		return nil
	case h.Header != "":
		name := http.CanonicalHeaderKey(h.Header)
		return func(x *filter.Exchange) (uint64, bool) {
			if v := x.Request.Header[name]; len(v) > 0 && v[0] != "" {
				return hashString(v[0]), true
			}
			return 0, false
		}
	case h.Cookie != "":
		name := h.Cookie
		return func(x *filter.Exchange) (uint64, bool) {
			for _, line := range x.Request.Header["Cookie"] {
				if v, ok := cookieValue(line, name); ok {
					return hashString(v), true
				}
			}
			return 0, false
		}
	case h.Query != "":
		name := h.Query
		return func(x *filter.Exchange) (uint64, bool) {
			if v, ok := queryValue(x.Request.URL.RawQuery, name); ok {
				return hashString(v), true
			}
			return 0, false
		}
	case h.Param != "":
		name := h.Param
		return func(x *filter.Exchange) (uint64, bool) {
			if v, ok := x.Params.Get(name); ok && v != "" {
				return hashString(v), true
			}
			return 0, false
		}
	case h.ClientIP:
		return func(x *filter.Exchange) (uint64, bool) {
			if !x.ClientIP.IsValid() {
				return 0, false
			}
			a := x.ClientIP.As16()
			hv := uint64(14695981039346656037)
			for _, c := range a {
				hv ^= uint64(c)
				hv *= 1099511628211
			}
			return mix(hv), true
		}
	}
	return nil
}

// cookieValue finds name in one Cookie header line ("a=1; b=2") without
// allocating; the value is hashed as sent (quotes and all).
func cookieValue(line, name string) (string, bool) {
	for line != "" {
		var part string
		part, line, _ = strings.Cut(line, ";")
		part = strings.TrimSpace(part)
		if k, v, ok := strings.Cut(part, "="); ok && k == name && v != "" {
			return v, true
		}
	}
	return "", false
}

// queryValue finds name in a raw query; the value is hashed still escaped,
// which is as consistent as unescaped and allocates nothing.
func queryValue(raw, name string) (string, bool) {
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if k, v, ok := strings.Cut(part, "="); ok && k == name && v != "" {
			return v, true
		}
	}
	return "", false
}
