package wasm

import (
	"slices"
	"sync"
	"time"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/proxywasm"
)

// Ticks (proxy_set_tick_period_milliseconds, proxy_on_tick). Every instance
// of a plugin runs the same configuration, so each asks for the same tick;
// ticking them all would multiply the guest's periodic work by the pool
// size. One instance per plugin ticks: the first to ask, replaced by another
// live instance if it is discarded. Its root context gets proxy_on_tick.

type ticker struct {
	mu     sync.Mutex
	owner  *instance
	period time.Duration
	stopc  chan struct{} // closes the running loop
}

// SetTickPeriod implements proxywasm.Host: the plugin ticks at period
// (0 stops), on this instance unless another live one ticks already.
func (h *pwHost) SetTickPeriod(period time.Duration) {
	in := (*instance)(h)
	p := in.p
	t := &p.host.tick
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.owner != nil && t.owner != in && !t.owner.Broken() {
		return // another instance ticks for the plugin
	}
	t.owner = in
	if period == t.period && t.stopc != nil {
		return
	}
	t.period = period
	if t.stopc != nil {
		close(t.stopc)
		t.stopc = nil
	}
	if period > 0 {
		stop := make(chan struct{})
		if p.background(func() { p.tickLoop(stop, period) }) {
			t.stopc = stop
		}
	}
}

func (p *Plugin) tickLoop(stop chan struct{}, period time.Duration) {
	tk := time.NewTicker(period)
	defer tk.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tk.C:
		}
		in := p.host.tick.current(p)
		if in != nil {
			p.onRoot(in, func() error { return in.tickRoots() })
		}
		// Every instance holding a stream ticks too, as each of Envoy's
		// worker VMs does: a tick is how many filters resume (body.go).
		for _, h := range p.holding(in) {
			p.onRoot(h, func() error { return h.tickRoots() })
		}
	}
}

// tickRoots calls proxy_on_tick on each of the instance's root contexts:
// during a config-only reload the old configuration's root still holds
// its streams (roots.go). Callers hold in.mu.
func (in *instance) tickRoots() error {
	for _, r := range slices.Clone(in.roots) {
		in.root = r
		if _, err := in.call(proxywasm.OnTick, uint64(r.id)); err != nil {
			return err
		}
	}
	return nil
}

// current is the instance that ticks: the owner, or another live one if
// the owner was discarded.
func (t *ticker) current(p *Plugin) *instance {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.owner != nil && !t.owner.Broken() {
		return t.owner
	}
	t.owner = nil
	for _, in := range p.pool.Live() {
		if !in.Broken() {
			t.owner = in
			break
		}
	}
	return t.owner
}

func (t *ticker) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopc != nil {
		close(t.stopc)
		t.stopc = nil
	}
	t.owner = nil
}

// Drained implements proxywasm.Host: the root context whose proxy_on_done
// answered false called proxy_done, and Close stops waiting for it.
func (h *pwHost) Drained() bool {
	if h.cur == nil && h.host.draining != nil {
		close(h.host.draining)
		h.host.draining = nil
		return true
	}
	return false
}
