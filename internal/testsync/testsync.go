// Package testsync holds what tests use to wait for a condition without
// sleeping and to read what a process or goroutine writes while it runs:
// one copy for the gateway harness, the Redis topologies, pebble and the
// package tests.
package testsync

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"time"
)

// stopErr ends a Poll early.
type stopErr struct{ error }

// Stop wraps err so that Poll returns it at once instead of retrying.
func Stop(err error) error { return stopErr{err} }

// Poll calls f every 20ms until it returns nil, returns Stop(err), or d
// passes. It is for conditions only observable by asking (an HTTP endpoint,
// a socket, a server's state); the interval is the asking rate, not a guess
// at timing, and d only an upper bound.
func Poll(d time.Duration, f func() error) error {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := f()
		if err == nil {
			return nil
		}
		var stop stopErr
		if errors.As(err, &stop) {
			return stop.error
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %w", d, err)
		}
		<-tick.C
	}
}

// Buffer is a bytes.Buffer that a process's or the gateway's goroutines
// may write into while the test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
