package wasm

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"

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

func hostSetTickPeriod(_ context.Context, in *instance, _ api.Memory, a []uint64) proxywasm.Status {
	p := in.p
	t := &p.host.tick
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.owner != nil && t.owner != in && !t.owner.Broken() {
		return proxywasm.StatusOK // another instance ticks for the plugin
	}
	t.owner = in
	period := time.Duration(proxywasm.Arg(a, 0)) * time.Millisecond
	if period == t.period && t.stopc != nil {
		return proxywasm.StatusOK
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
	return proxywasm.StatusOK
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

// hostDone is proxy_done: a root context that answered false to
// proxy_on_done says it has finished.
func hostDone(_ context.Context, in *instance, _ api.Memory, _ []uint64) proxywasm.Status {
	if in.cur == nil && in.host.draining != nil {
		close(in.host.draining)
		in.host.draining = nil
		return proxywasm.StatusOK
	}
	if in.cur != nil {
		return proxywasm.StatusOK // streams are always done at once
	}
	return proxywasm.StatusNotFound // nothing is waiting for this root context
}
