package gateway

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/wasmgate/wasmgate/core/filter"
)

// keeper holds values that filters share across snapshots (compiled Wasm
// modules, caches). A value lives while at least one live snapshot uses it:
// a reload that keeps a filter's config keeps its state, and the last
// snapshot to let go of a value closes it.
type keeper struct {
	mu       sync.Mutex
	vals     map[any]*keptValue
	building uint64 // the generation being built; its gets are recorded as users
	// onWait, if set (by tests), is called when a get is about to wait for
	// another get's create of the same key.
	onWait func(key any)
}

type keptValue struct {
	v     io.Closer
	err   error
	ready chan struct{}   // closed once v or err is set
	done  bool            // v or err is set (under keeper.mu)
	users map[uint64]bool // generations using the value
}

func newKeeper() *keeper { return &keeper{vals: map[any]*keptValue{}} }

// begin starts recording uses for generation gen.
func (k *keeper) begin(gen uint64) {
	k.mu.Lock()
	k.building = gen
	k.mu.Unlock()
}

// Keep implements filter.Keeper; filter.BuildContext.Keep has checked the
// key. create runs without the keeper's lock (a cold Wasm compile takes
// most of a second), once per key: concurrent gets of the same key wait for
// the first one's result, gets of other keys proceed.
func (k *keeper) Keep(key any, create func() (io.Closer, error)) (io.Closer, error) {
	k.mu.Lock()
	gen := k.building
	kv, ok := k.vals[key]
	if ok {
		kv.users[gen] = true
		creating := !kv.done
		k.mu.Unlock()
		if creating && k.onWait != nil {
			k.onWait(key)
		}
		<-kv.ready
		if kv.err != nil {
			return nil, kv.err
		}
		return kv.v, nil
	}
	kv = &keptValue{ready: make(chan struct{}), users: map[uint64]bool{gen: true}}
	k.vals[key] = kv
	k.mu.Unlock()

	var v io.Closer
	var err error
	var panicked any
	func() {
		defer func() {
			if panicked = recover(); panicked != nil {
				err = fmt.Errorf("creating %v: panic: %v", key, panicked)
			}
		}()
		v, err = create()
	}()
	k.mu.Lock()
	kv.v, kv.err, kv.done = v, err, true
	orphan := k.vals[key] != kv // every user released it meanwhile
	if err != nil && !orphan {
		delete(k.vals, key) // the next get tries again
	}
	close(kv.ready)
	k.mu.Unlock()
	if panicked != nil {
		panic(panicked)
	}
	if err != nil {
		return nil, err
	}
	if orphan {
		_ = v.Close()
		return nil, errors.New("the build using it was abandoned")
	}
	return v, nil
}

// release drops generation gen's uses (its snapshot retired, or its build
// failed) and closes the values nobody uses any more.
func (k *keeper) release(gen uint64) {
	k.mu.Lock()
	var unused []io.Closer
	for key, kv := range k.vals {
		delete(kv.users, gen)
		if len(kv.users) == 0 {
			if kv.done && kv.err == nil {
				unused = append(unused, kv.v)
			} // else its creator closes it when done
			delete(k.vals, key)
		}
	}
	k.mu.Unlock()
	for _, v := range unused {
		_ = v.Close()
	}
}

var _ filter.Keeper = (*keeper)(nil)
