package wasmrt

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Pool is a plugin's bounded set of instances. Idle instances wait on a
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
//
// Pool knows no ABI: create makes and starts a T (for Proxy-Wasm, up to its
// root context's proxy_on_configure).
type Pool[T Member] struct {
	max       int
	create    func(context.Context) (T, error)
	failed    func(err error, retryIn time.Duration) // a creation failed
	discarded func()                                 // an instance was discarded

	// idle is a stack: an exchange takes the instance released last,
	// whose memory and code are the likeliest to still be in cache; a
	// queue would hand out the coldest one.
	idleMu sync.Mutex
	idle   []T

	mu        sync.Mutex
	live      []T
	creating  int
	next      int
	backoff   time.Duration // the wait after the next failure
	notBefore time.Time     // no creation before this, after a failure
	closed    bool
}

// Member is what a Pool holds: an instance with the pool's bookkeeping
// in a Slot, closed by Close.
type Member interface {
	comparable
	PoolSlot() *Slot
	Close()
}

// Slot is a pooled instance's bookkeeping; embed it.
type Slot struct {
	pins   atomic.Int32 // exchanges pinned to this instance
	inIdle atomic.Bool  // on the pool's idle stack
	broken atomic.Bool
}

// Broken reports that the instance failed: it is never called again.
func (s *Slot) Broken() bool { return s.broken.Load() }

// MarkBroken marks an instance that failed before it joined a pool.
func (s *Slot) MarkBroken() { s.broken.Store(true) }

// Pin keeps the instance open until the matching Release, as Acquire does.
func (s *Slot) Pin() { s.pins.Add(1) }

const (
	// MinBackoff is the first wait before re-creating after a failure.
	MinBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// ErrNoInstance is a failure to get any instance (creation failed or is
// backing off after failures).
var ErrNoInstance = errors.New("no healthy instance")

// NewPool returns an empty pool of at most max instances made by create;
// failed hears of each creation failure, discarded of each Discard.
func NewPool[T Member](max int, create func(context.Context) (T, error), failed func(error, time.Duration), discarded func()) *Pool[T] {
	return &Pool[T]{max: max, create: create, failed: failed, discarded: discarded, idle: make([]T, 0, max), backoff: MinBackoff}
}

// Fill creates the pool's instances, at most GOMAXPROCS at a time; the
// first failure is the load's error (every instance runs the same
// configuration, so one failing means the config is bad).
func (pl *Pool[T]) Fill(ctx context.Context) error {
	made := make([]T, pl.max)
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
					made[i], errs[i] = pl.create(ctx)
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
	var zero T
	for _, in := range made {
		switch {
		case in == zero:
		case err != nil:
			in.Close()
		default:
			pl.adopt(in)
		}
	}
	return err
}

// adopt adds a fresh instance to the pool, idle.
func (pl *Pool[T]) adopt(in T) {
	pl.mu.Lock()
	pl.live = append(pl.live, in)
	pl.mu.Unlock()
	in.PoolSlot().inIdle.Store(true)
	pl.pushIdle(in)
}

func (pl *Pool[T]) pushIdle(in T) {
	pl.idleMu.Lock()
	pl.idle = append(pl.idle, in)
	pl.idleMu.Unlock()
}

// popIdle takes the instance released last, if any.
func (pl *Pool[T]) popIdle() (T, bool) {
	pl.idleMu.Lock()
	defer pl.idleMu.Unlock()
	n := len(pl.idle)
	var zero T
	if n == 0 {
		return zero, false
	}
	in := pl.idle[n-1]
	pl.idle[n-1] = zero
	pl.idle = pl.idle[:n-1]
	return in, true
}

// Acquire pins an instance to the caller until release.
func (pl *Pool[T]) Acquire(ctx context.Context) (T, error) {
	for {
		in, ok := pl.popIdle()
		if !ok {
			return pl.acquireSlow(ctx)
		}
		sl := in.PoolSlot()
		sl.pins.Add(1)
		sl.inIdle.Store(false)
		if sl.broken.Load() {
			pl.Release(in)
			continue
		}
		return in, nil
	}
}

func (pl *Pool[T]) acquireSlow(ctx context.Context) (T, error) {
	var zero T
	pl.mu.Lock()
	if pl.closed {
		pl.mu.Unlock()
		return zero, errors.New("the plugin is closed")
	}
	if len(pl.live)+pl.creating < pl.max && !time.Now().Before(pl.notBefore) {
		pl.creating++
		pl.mu.Unlock()
		in, err := pl.create(ctx)
		pl.mu.Lock()
		pl.creating--
		if err == nil && !pl.closed {
			in.PoolSlot().pins.Add(1)
			pl.live = append(pl.live, in)
			pl.backoff = MinBackoff
			pl.mu.Unlock()
			return in, nil
		}
		if err == nil { // closed meanwhile
			in.Close()
			err = errors.New("the plugin is closed")
		}
		pl.delay()
		pl.failed(err, pl.backoff)
		if len(pl.live) == 0 {
			pl.mu.Unlock()
			return zero, fmt.Errorf("%w: %v", ErrNoInstance, err)
		}
	}
	if len(pl.live) == 0 {
		pl.mu.Unlock()
		return zero, fmt.Errorf("%w: re-creation is backing off after failures", ErrNoInstance)
	}
	pl.next++
	in := pl.live[pl.next%len(pl.live)]
	in.PoolSlot().pins.Add(1)
	pl.mu.Unlock()
	return in, nil
}

// delay schedules the next creation after the current back-off and doubles
// it. Callers hold mu.
func (pl *Pool[T]) delay() {
	pl.notBefore = time.Now().Add(pl.backoff)
	pl.backoff = min(pl.backoff*2, maxBackoff)
}

// Release unpins an instance: back to the idle stack when nobody uses it,
// or closed if it broke.
func (pl *Pool[T]) Release(in T) {
	sl := in.PoolSlot()
	if sl.pins.Add(-1) != 0 {
		return
	}
	if sl.broken.Load() {
		in.Close()
		return
	}
	if sl.inIdle.CompareAndSwap(false, true) {
		pl.pushIdle(in)
	}
}

// Discard takes a failed instance out of the pool for good; it is closed
// when its last exchange lets go. Re-creation waits out the back-off.
func (pl *Pool[T]) Discard(in T) {
	sl := in.PoolSlot()
	if sl.broken.Swap(true) {
		return
	}
	pl.discarded()
	pl.mu.Lock()
	for i, l := range pl.live {
		if l == in {
			pl.live = append(pl.live[:i], pl.live[i+1:]...)
			break
		}
	}
	pl.delay()
	pl.mu.Unlock()
	if sl.pins.Load() == 0 {
		in.Close()
	}
}

// Close closes every instance; the runtime's Close frees the rest.
func (pl *Pool[T]) Close() {
	pl.mu.Lock()
	pl.closed = true
	live := pl.live
	pl.live = nil
	pl.mu.Unlock()
	for _, in := range live {
		in.Close()
	}
}

// Live returns the pool's live instances (a copy).
func (pl *Pool[T]) Live() []T {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return append([]T(nil), pl.live...)
}

// Size reports the live instances and how many are idle.
func (pl *Pool[T]) Size() (live, idle int) {
	pl.mu.Lock()
	live = len(pl.live)
	pl.mu.Unlock()
	pl.idleMu.Lock()
	defer pl.idleMu.Unlock()
	return live, len(pl.idle)
}
