package gateway

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type closer struct{ closed atomic.Bool }

func (c *closer) Close() error { c.closed.Store(true); return nil }

// Creating two keys proceeds concurrently (neither create holds the lock
// the other needs); the same key is created once and shared.
func TestKeepCreatesWithoutTheLock(t *testing.T) {
	k := newKeeper()
	k.begin(1)
	waiting := make(chan string, 1)
	k.onWait = func(key any) { waiting <- key.(string) }
	started := make(chan string, 2)
	release := make(chan struct{})
	var calls atomic.Int32
	create := func(name string) func() (io.Closer, error) {
		return func() (io.Closer, error) {
			calls.Add(1)
			started <- name
			<-release
			return &closer{}, nil
		}
	}
	var wg sync.WaitGroup
	got := make([]io.Closer, 3)
	for i, key := range []string{"a", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := k.Keep(key, create(key))
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		}()
	}
	// Both creates run at once: each blocks until released.
	for i := 0; i < 2; i++ {
		select {
		case <-started:
		case <-time.After(5 * time.Second):
			t.Fatal("the second create waited for the first: creation holds the lock")
		}
	}
	// A get of a key being created waits for it and shares the value.
	wg.Add(1)
	go func() {
		defer wg.Done()
		v, err := k.Keep("a", create("a-again"))
		if err != nil {
			t.Error(err)
		}
		got[2] = v
	}()
	select {
	case key := <-waiting:
		if key != "a" {
			t.Fatalf("a get waited for %q, want a", key)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the get of a key being created did not wait for it")
	}
	close(release)
	wg.Wait()
	if calls.Load() != 2 {
		t.Errorf("%d creates, want 2 (one per key)", calls.Load())
	}
	if got[0] == nil || got[0] != got[2] || got[0] == got[1] {
		t.Errorf("values %v: want a shared per key", got)
	}
	k.release(1)
	if !got[0].(*closer).closed.Load() || !got[1].(*closer).closed.Load() {
		t.Error("released values not closed")
	}
}

// A failed create is not kept: the next get tries again.
func TestKeepRetriesAfterError(t *testing.T) {
	k := newKeeper()
	k.begin(1)
	if _, err := k.Keep("a", func() (io.Closer, error) { return nil, errors.New("boom") }); err == nil {
		t.Fatal("want the error")
	}
	v, err := k.Keep("a", func() (io.Closer, error) { return &closer{}, nil })
	if err != nil || v == nil {
		t.Fatalf("retry: %v %v", v, err)
	}
}

// A value whose every user is released while it is being created is closed
// when the creation ends.
func TestKeepReleasedDuringCreate(t *testing.T) {
	k := newKeeper()
	k.begin(1)
	release := make(chan struct{})
	c := &closer{}
	done := make(chan error)
	creating := make(chan struct{})
	go func() {
		_, err := k.Keep("a", func() (io.Closer, error) { close(creating); <-release; return c, nil })
		done <- err
	}()
	<-creating   // the value is being created
	k.release(1) // does not wait for the create
	close(release)
	if err := <-done; err == nil {
		t.Error("want an error for an abandoned build")
	}
	if !c.closed.Load() {
		t.Error("the orphaned value was not closed")
	}
}
