package cache

import (
	"context"
	"sync"
	"time"
)

// flights coalesces concurrent misses for one key: the first request
// (the leader) goes to the upstream, those after it wait for the leader's
// response to be stored (or found unstorable) and are then answered from
// the store. Waiting is bounded twice: at most maxWaiters wait on a key
// (the rest go to the upstream themselves), and none waits longer than
// timeout; a waiter whose client leaves stops waiting at once.
type flights struct {
	mu         sync.Mutex
	m          map[string]*flight
	maxWaiters int
	timeout    time.Duration
}

// onWait, when set (by tests only), is called as a waiter starts waiting:
// the coalescing tests release the upstream once every waiter waits.
var onWait func()

type flight struct {
	done    chan struct{}
	waiters int
}

func newFlights(maxWaiters int, timeout time.Duration) *flights {
	return &flights{m: make(map[string]*flight), maxWaiters: maxWaiters, timeout: timeout}
}

// join makes the caller the leader of key's flight (lead is true; it must
// call land), or returns the flight to wait on (nil when the waiters are
// already at their bound: forward without waiting).
func (fs *flights) join(key string) (f *flight, lead bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f = fs.m[key]; f == nil {
		f = &flight{done: make(chan struct{})}
		fs.m[key] = f
		return f, true
	}
	if f.waiters >= fs.maxWaiters {
		return nil, false
	}
	f.waiters++
	return f, false
}

// wait blocks until the flight lands, the timeout passes or ctx ends; it
// reports whether the flight landed.
func (fs *flights) wait(ctx context.Context, f *flight) bool {
	if onWait != nil {
		onWait()
	}
	t := time.NewTimer(fs.timeout)
	defer t.Stop()
	select {
	case <-f.done:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// land ends key's flight and wakes its waiters. Only the leader calls it,
// once.
func (fs *flights) land(key string, f *flight) {
	fs.mu.Lock()
	if fs.m[key] == f {
		delete(fs.m, key)
	}
	fs.mu.Unlock()
	close(f.done)
}
