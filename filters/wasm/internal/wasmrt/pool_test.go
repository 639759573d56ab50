package wasmrt

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

type member struct {
	Slot
	id     int
	closed atomic.Bool
}

func (m *member) PoolSlot() *Slot { return &m.Slot }
func (m *member) Close()          { m.closed.Store(true) }

// The pool without an ABI: Fill creates every instance; Acquire hands out
// the instance released last (the warmest); a discarded instance is closed
// only when its last user lets go, and is never handed out again; with
// every instance gone, Acquire says so without creating during the back-off.
func TestPool(t *testing.T) {
	var made []*member
	fail := false
	var failures, discards int
	p := NewPool(2, func(context.Context) (*member, error) {
		if fail {
			return nil, errors.New("no")
		}
		m := &member{id: len(made)}
		made = append(made, m)
		return m, nil
	}, func(error, time.Duration) { failures++ }, func() { discards++ })
	if err := p.Fill(t.Context()); err != nil {
		t.Fatal(err)
	}
	if live, idle := p.Size(); live != 2 || idle != 2 || len(made) != 2 {
		t.Fatalf("after Fill: %d live, %d idle, %d made; want 2, 2, 2", live, idle, len(made))
	}
	a, _ := p.Acquire(t.Context())
	b, _ := p.Acquire(t.Context())
	p.Release(a)
	if c, _ := p.Acquire(t.Context()); c != a {
		t.Errorf("Acquire gave instance %d, want %d (released last)", c.id, a.id)
	}
	p.Discard(a)
	if a.closed.Load() {
		t.Error("a discarded instance in use was closed")
	}
	p.Release(a)
	if !a.closed.Load() || discards != 1 {
		t.Errorf("after its last release: closed %v, discards %d; want true, 1", a.closed.Load(), discards)
	}
	p.Release(b)
	if c, _ := p.Acquire(t.Context()); c != b {
		t.Errorf("Acquire gave instance %d, want %d (the one left)", c.id, b.id)
	}
	p.Discard(b)
	p.Release(b)
	fail = true
	if _, err := p.Acquire(t.Context()); !errors.Is(err, ErrNoInstance) {
		t.Errorf("with every instance discarded and creation failing: %v; want ErrNoInstance", err)
	}
	if len(made) != 2 || failures != 0 {
		t.Errorf("%d made, %d failed creations: the back-off after a discard must hold creation off", len(made), failures)
	}
	p.Close()
}
