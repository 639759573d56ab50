package wasmrt

import (
	"context"
	"sync"
	"time"
)

// CallCtx is an instance's reusable callback context: it carries one value
// for host functions (the instance, under its ABI's key) and a deadline
// re-armed per callback, without allocating a context and timer per call.
type CallCtx struct {
	key, val any
	enabled  bool // false: Done is nil, so wazero adds no watcher per call

	mu    sync.Mutex
	done  chan struct{}
	fired bool
	timer *time.Timer
}

// NewCallCtx returns a context whose Value(key) is val. Enabled, its Done
// closes when an armed deadline passes (for WithCloseOnContextDone);
// otherwise Done is nil and arming is free.
func NewCallCtx(key, val any, enabled bool) *CallCtx {
	c := &CallCtx{key: key, val: val, enabled: enabled, done: make(chan struct{})}
	if enabled {
		c.timer = time.AfterFunc(time.Hour, c.fire)
		c.timer.Stop()
	}
	return c
}

func (c *CallCtx) fire() {
	c.mu.Lock()
	if !c.fired {
		c.fired = true
		close(c.done)
	}
	c.mu.Unlock()
}

// Arm starts the deadline of the next callback.
func (c *CallCtx) Arm(d time.Duration) {
	if c.enabled {
		c.timer.Reset(d)
	}
}

// Disarm stops the deadline; false means it fired.
func (c *CallCtx) Disarm() bool { return !c.enabled || c.timer.Stop() }

func (c *CallCtx) Deadline() (time.Time, bool) { return time.Time{}, false }

func (c *CallCtx) Done() <-chan struct{} {
	if !c.enabled {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done
}

func (c *CallCtx) Err() error {
	if !c.enabled {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fired {
		return context.DeadlineExceeded
	}
	return nil
}

func (c *CallCtx) Value(key any) any {
	if key == c.key {
		return c.val
	}
	return nil
}

var _ context.Context = (*CallCtx)(nil)
