package concurrency

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/limits"
)

// Filter holds one slot per admitted request until OnDone.
type Filter struct {
	name      string
	sfName    string
	policy    []string
	key       limits.Key
	max       int32
	consumers map[string]int32
	headers   bool
	counts    *counts
	// wasmgate_ratelimit_decisions_total{http_route, policy, outcome}.
	decisions *limits.Decisions
}

// held is what OnRequest leaves for OnResponse and OnDone.
type held struct {
	key       uint64
	remaining int32
	admitted  bool
}

type heldKey struct{ f *Filter }

// Build compiles the policy. The counts are kept across reloads, so requests
// in flight when a reload lands still count against the cap.
func (c *Config) Build(bc *filter.BuildContext) (filter.Filter, error) {
	if err := c.Key.Check(bc.RouteParams); err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	name := c.Name
	if name == "" {
		name = bc.Route
	}
	f := &Filter{
		name:    name,
		sfName:  limits.SFString(name),
		policy:  []string{limits.PolicyItem(name, int64(c.Max), 0, "concurrent-requests")},
		key:     c.Key,
		max:     int32(c.Max),
		headers: c.Headers == nil || *c.Headers,
		// The policy label is the policy's name, as the 429 body gives it.
		decisions: limits.NewDecisions(bc, name, false),
	}
	if len(c.Consumers) > 0 {
		f.consumers = make(map[string]int32, len(c.Consumers))
		for n, m := range c.Consumers {
			f.consumers[n] = int32(m)
		}
	}
	v, err := bc.Keep(countsKey{bc.Route, name, c.Key.Ident()}, func() (io.Closer, error) { return newCounts(), nil })
	if err != nil {
		return nil, err
	}
	f.counts = v.(*counts)
	return f, nil
}

// OnRequest takes a slot or refuses with 429.
func (f *Filter) OnRequest(x *filter.Exchange) *filter.Response {
	limit := f.max
	if x.Consumer != nil && f.consumers != nil {
		if m, ok := f.consumers[x.Consumer.Name]; ok {
			limit = m
		}
	}
	k := f.key.Hash(x)
	n, ok := f.counts.acquire(k, limit)
	if !ok {
		f.decisions.Limited()
		if f.headers {
			x.Set(heldKey{f}, held{remaining: 0})
		}
		return limits.Reject(http.StatusTooManyRequests, "too many requests in flight", f.name, time.Second)
	}
	f.decisions.Allowed()
	x.Set(heldKey{f}, held{key: k, remaining: limit - n, admitted: true})
	return nil
}

// OnResponse adds the policy and the slots left when this request started.
func (f *Filter) OnResponse(x *filter.Exchange) *filter.Response {
	h, ok := x.Value(heldKey{f}).(held)
	if !ok || !f.headers || x.Response == nil {
		return nil
	}
	if x.Response.Header == nil {
		x.Response.Header = http.Header{}
	}
	hd := x.Response.Header
	hd[limits.HeaderPolicy] = append(hd[limits.HeaderPolicy], f.policy...)
	hd[limits.HeaderLimit] = append(hd[limits.HeaderLimit], f.sfName+";r="+strconv.Itoa(int(h.remaining)))
	return nil
}

// OnDone releases the slot of an admitted request.
func (f *Filter) OnDone(x *filter.Exchange) {
	if h, ok := x.Value(heldKey{f}).(held); ok && h.admitted {
		f.counts.release(h.key)
	}
}

// InFlight is the number of requests holding a slot, for tests and metrics.
func (f *Filter) InFlight() int { return f.counts.total() }

const numShards = 32

// countsKey keeps a route's counts across a reload that leaves its name and
// key as they were: requests in flight stay counted.
type countsKey struct {
	route, name string
	key         string // limits.Key.Ident
}

// counts is in-flight counts per key hash, sharded. A key at zero is
// deleted, so memory follows what is in flight, not how many keys were seen.
type counts struct {
	shards [numShards]struct {
		sync.Mutex
		m map[uint64]int32
		_ [40]byte
	}
}

func newCounts() *counts {
	c := &counts{}
	for i := range c.shards {
		c.shards[i].m = map[uint64]int32{}
	}
	return c
}

func (c *counts) acquire(k uint64, limit int32) (int32, bool) {
	s := &c.shards[k%numShards]
	s.Lock()
	defer s.Unlock()
	n := s.m[k]
	if n >= limit {
		return n, false
	}
	s.m[k] = n + 1
	return n + 1, true
}

func (c *counts) release(k uint64) {
	s := &c.shards[k%numShards]
	s.Lock()
	if n := s.m[k]; n <= 1 {
		delete(s.m, k)
	} else {
		s.m[k] = n - 1
	}
	s.Unlock()
}

func (c *counts) total() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.Lock()
		for _, v := range s.m {
			n += int(v)
		}
		s.Unlock()
	}
	return n
}

// Close lets kept counts go with the last snapshot using them.
func (c *counts) Close() error { return nil }

var (
	_ filter.Filter         = (*Filter)(nil)
	_ filter.ResponseFilter = (*Filter)(nil)
	_ filter.DoneFilter     = (*Filter)(nil)
	_ filter.Validator      = (*Config)(nil)
)
