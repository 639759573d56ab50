package wasm

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// pool is a plugin's bounded set of instances. Idle instances wait on a
// stack (not a sync.Pool, which drops its contents at GC and would lose
// plugin state). All of them are created at load (fill), as Envoy starts
// each worker's VM when the config loads: proxy_on_vm_start then never runs
// while traffic flows, so a guest that initializes shared data there cannot
// reset what other instances are already counting. An exchange takes an
// idle instance if there is one, else shares a busy one: callbacks
// serialize on the instance's mutex, so long-lived streams cannot exhaust
// the pool. The one instance started later is the replacement of one that
// failed (a trap, a deadline), after a back-off, as Envoy restarts a failed
// VM.
type pool struct {
	p   *Plugin
	max int

	// idle is a stack: an exchange takes the instance released last,
	// whose memory and code are the likeliest to still be in cache; a
	// queue would hand out the coldest one.
	idleMu sync.Mutex
	idle   []*instance

	mu        sync.Mutex
	live      []*instance
	creating  int
	next      int
	backoff   time.Duration // the wait after the next failure
	notBefore time.Time     // no creation before this, after a failure
	closed    bool
}

const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// errNoInstance is a failure to get any instance (creation failed or is
// backing off after failures).
var errNoInstance = errors.New("no healthy instance")

func newPool(p *Plugin, max int) *pool {
	return &pool{p: p, max: max, idle: make([]*instance, 0, max), backoff: minBackoff}
}

// fill creates the pool's instances, at most GOMAXPROCS at a time; the
// first failure is the load's error (every instance runs the same
// configuration, so one failing means the config is bad).
func (pl *pool) fill(ctx context.Context) error {
	made := make([]*instance, pl.max)
	errs := make([]error, pl.max)
	work := make(chan int, pl.max)
	for i := range pl.max {
		work <- i
	}
	close(work)
	var wg sync.WaitGroup
	for range min(pl.max, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if ctx.Err() == nil {
					made[i], errs[i] = pl.p.newInstance(ctx)
				}
			}
		}()
	}
	wg.Wait()
	err := ctx.Err()
	for _, e := range errs {
		if e != nil {
			err = e
			break
		}
	}
	for _, in := range made {
		switch {
		case in == nil:
		case err != nil:
			in.close()
		default:
			pl.adopt(in)
		}
	}
	return err
}

// adopt adds a fresh instance to the pool, idle.
func (pl *pool) adopt(in *instance) {
	pl.mu.Lock()
	pl.live = append(pl.live, in)
	pl.mu.Unlock()
	in.inIdle.Store(true)
	pl.pushIdle(in)
}

func (pl *pool) pushIdle(in *instance) {
	pl.idleMu.Lock()
	pl.idle = append(pl.idle, in)
	pl.idleMu.Unlock()
}

// popIdle takes the instance released last, or nil.
func (pl *pool) popIdle() *instance {
	pl.idleMu.Lock()
	defer pl.idleMu.Unlock()
	n := len(pl.idle)
	if n == 0 {
		return nil
	}
	in := pl.idle[n-1]
	pl.idle[n-1] = nil
	pl.idle = pl.idle[:n-1]
	return in
}

// acquire pins an instance to the caller until release.
func (pl *pool) acquire(ctx context.Context) (*instance, error) {
	for {
		in := pl.popIdle()
		if in == nil {
			return pl.acquireSlow(ctx)
		}
		in.pins.Add(1)
		in.inIdle.Store(false)
		if in.broken.Load() {
			pl.release(in)
			continue
		}
		return in, nil
	}
}

func (pl *pool) acquireSlow(ctx context.Context) (*instance, error) {
	pl.mu.Lock()
	if pl.closed {
		pl.mu.Unlock()
		return nil, errors.New("the plugin is closed")
	}
	if len(pl.live)+pl.creating < pl.max && !time.Now().Before(pl.notBefore) {
		pl.creating++
		pl.mu.Unlock()
		in, err := pl.p.newInstance(ctx)
		pl.mu.Lock()
		pl.creating--
		if err == nil && !pl.closed {
			in.pins.Add(1)
			pl.live = append(pl.live, in)
			pl.backoff = minBackoff
			pl.mu.Unlock()
			return in, nil
		}
		if err == nil { // closed meanwhile
			in.close()
			err = errors.New("the plugin is closed")
		}
		pl.delay()
		pl.p.logger.Error("wasm instance creation failed", "err", err, "retry_in", pl.backoff)
		if len(pl.live) == 0 {
			pl.mu.Unlock()
			return nil, fmt.Errorf("%w: %v", errNoInstance, err)
		}
	}
	if len(pl.live) == 0 {
		pl.mu.Unlock()
		return nil, fmt.Errorf("%w: re-creation is backing off after failures", errNoInstance)
	}
	pl.next++
	in := pl.live[pl.next%len(pl.live)]
	in.pins.Add(1)
	pl.mu.Unlock()
	return in, nil
}

// delay schedules the next creation after the current back-off and doubles
// it. Callers hold mu.
func (pl *pool) delay() {
	pl.notBefore = time.Now().Add(pl.backoff)
	pl.backoff = min(pl.backoff*2, maxBackoff)
}

// release unpins an instance: back to the idle channel when nobody uses it,
// or closed if it broke.
func (pl *pool) release(in *instance) {
	if in.pins.Add(-1) != 0 {
		return
	}
	if in.broken.Load() {
		in.close()
		return
	}
	if in.inIdle.CompareAndSwap(false, true) {
		pl.pushIdle(in)
	}
}

// discard takes a failed instance out of the pool for good; it is closed
// when its last exchange lets go. Re-creation waits out the back-off.
func (pl *pool) discard(in *instance) {
	if in.broken.Swap(true) {
		return
	}
	pl.p.stats.instancesDiscarded.Add(1)
	pl.mu.Lock()
	for i, l := range pl.live {
		if l == in {
			pl.live = append(pl.live[:i], pl.live[i+1:]...)
			break
		}
	}
	pl.delay()
	pl.mu.Unlock()
	if in.pins.Load() == 0 {
		in.close()
	}
}

// close closes every instance; the runtime's Close frees the rest.
func (pl *pool) close() {
	pl.mu.Lock()
	pl.closed = true
	live := pl.live
	pl.live = nil
	pl.mu.Unlock()
	for _, in := range live {
		in.close()
	}
}

// size reports the live instances, how many are idle, and their linear
// memory in bytes.
func (pl *pool) size() (live, idle int, memory uint64) {
	pl.mu.Lock()
	live = len(pl.live)
	for _, in := range pl.live {
		memory += uint64(in.memBytes.Load())
	}
	pl.mu.Unlock()
	pl.idleMu.Lock()
	defer pl.idleMu.Unlock()
	return live, len(pl.idle), memory
}
