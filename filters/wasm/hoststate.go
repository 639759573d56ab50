package wasm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/httpwasm"
	"github.com/wasmgate/wasmgate/filters/wasm/internal/proxywasm"
	"github.com/wasmgate/wasmgate/filters/wasm/internal/wasmrt"
)

// The state behind the Proxy-Wasm features that outlive one callback:
// callouts, ticks, shared data, queues and metrics. Plugin-wide state is in
// pluginHost, per-instance state in instHost, per-exchange state in
// streamHost.

const (
	defaultCalloutLimit   = 64
	defaultCalloutTimeout = 5 * time.Second
	defaultSharedData     = 1 << 20
	// drainGrace is how long Close waits for a root context whose
	// proxy_on_done answered false to call proxy_done.
	drainGrace = time.Second
)

func (o *Options) setHostDefaults() {
	if o.VMID == "" {
		o.VMID = o.Name
	}
	if o.CalloutLimit <= 0 {
		o.CalloutLimit = defaultCalloutLimit
	}
	if o.CalloutTimeout <= 0 {
		o.CalloutTimeout = defaultCalloutTimeout
	}
	if o.SharedDataLimit <= 0 {
		o.SharedDataLimit = defaultSharedData
	}
}

// pluginHost is a plugin's background work and shared state. Background
// goroutines (tick, queue and root-callout deliveries) enter before they
// touch an instance, so close can wait them out before the instances go.
type pluginHost struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup

	slots   chan struct{} // the callout concurrency cap
	shared  proxywasm.SharedStore
	metrics *metricSet
	tick    ticker
	hwInit  atomic.Uint32   // http-wasm features enabled at initialization
	bgCtx   context.Context // canceled at close: root callouts
	cancel  context.CancelFunc
}

func (h *pluginHost) open(p *Plugin) error {
	if p.opts.SharedRedis != nil {
		r, err := proxywasm.NewRedisShared(p.opts.SharedRedis, p.logger, p.opts.VMID, p.opts.SharedDataLimit)
		if err != nil {
			return err
		}
		h.shared = r
	} else {
		h.shared = proxywasm.MemShared(p.opts.VMID, p.opts.SharedDataLimit)
	}
	h.slots = make(chan struct{}, p.opts.CalloutLimit)
	h.bgCtx, h.cancel = context.WithCancel(context.Background())
	h.metrics = metricsFor(p.name)
	return nil
}

// enter registers background work; false once the plugin is closing.
func (h *pluginHost) enter() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.wg.Add(1)
	return true
}

func (h *pluginHost) exit() { h.wg.Done() }

// close lets root contexts finish (proxy_on_done; those answering false get
// drainGrace to call proxy_done, with ticks and callouts still running),
// then stops all background work and waits for it.
func (h *pluginHost) close(p *Plugin) {
	if h.cancel == nil {
		return // never opened
	}
	if p.abi == abiProxyWasm && p.pool != nil {
		p.drainRoots()
	}
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.tick.stop()
	h.cancel()
	h.wg.Wait()
	if c, ok := h.shared.(interface{ Close() }); ok {
		c.Close()
	}
	unregisterQueues(p)
	h.metrics.Release()
}

// drainRoots calls proxy_on_done on each live instance's root contexts and
// waits (up to drainGrace) for those that answer false to call proxy_done
// (the last one of an instance to answer false is the one waited for).
func (p *Plugin) drainRoots() {
	live := p.pool.Live()
	var waiting []chan struct{}
	for _, in := range live {
		if in.fns[proxywasm.OnDone] == nil {
			continue
		}
		p.onRoot(in, func() error {
			var ch chan struct{}
			for _, rt := range slices.Clone(in.roots) {
				in.root = rt
				r, err := in.call(proxywasm.OnDone, uint64(rt.id))
				if err != nil {
					return err
				}
				if uint32(r) == 0 && ch == nil {
					ch = make(chan struct{})
					in.host.draining = ch
					waiting = append(waiting, ch)
				}
			}
			return nil
		})
	}
	deadline := time.NewTimer(drainGrace)
	defer deadline.Stop()
	for _, ch := range waiting {
		select {
		case <-ch:
		case <-deadline.C:
			p.logger.Warn("wasm plugin did not call proxy_done in time after proxy_on_done returned false", "grace", drainGrace)
			return
		}
	}
}

// onRoot runs fn with in locked for its root context, in pinned so it
// cannot be closed meanwhile. A failure discards the instance. It reports
// whether fn ran.
func (p *Plugin) onRoot(in *instance, fn func() error) bool {
	in.Pin()
	defer p.pool.Release(in)
	in.mu.Lock()
	if in.Broken() {
		in.mu.Unlock()
		return false
	}
	prev := in.cur
	in.cur = nil
	err := fn()
	in.cur = prev
	in.mu.Unlock()
	if err != nil {
		p.stats.failures.Add(1)
		if errors.Is(err, wasmrt.ErrTimeout) {
			p.stats.timeouts.Add(1)
		}
		p.pool.Discard(in)
		p.logger.Error("wasm plugin failed in its root context", "err", err)
	}
	return true
}

// background runs fn in a goroutine registered with the plugin host, unless
// the plugin is closing.
func (p *Plugin) background(fn func()) bool {
	if !p.host.enter() {
		return false
	}
	go func() {
		defer p.host.exit()
		defer func() {
			if r := recover(); r != nil {
				p.logger.Error("wasm host background panic", "panic", fmt.Sprint(r))
			}
		}()
		fn()
	}()
	return true
}

// instHost is an instance's state for the features above. Guarded by the
// instance's mu.
type instHost struct {
	nextCallout uint32
	delivering  *callout      // the callout response proxy_on_http_call_response is reading
	draining    chan struct{} // closed by proxy_done after proxy_on_done answered false
}

// streamHost is an exchange's state for the features above.
type streamHost struct {
	pending []*callout      // dispatched, not yet delivered
	ready   chan *callout   // completed callouts, in completion order
	resumed bool            // proxy_continue_stream (or request/response) called
	failed  error           // a callout failed (timeout, refused, cap)
	policy  bool            // ... while paused, and the guest did not recover: the failure policy applies
	hw      httpwasm.Stream // http-wasm exchanges
}

// cancel stops the callouts the exchange no longer waits for.
func (sh *streamHost) cancel() {
	for _, c := range sh.pending {
		c.cancel()
	}
	sh.pending = nil
}
