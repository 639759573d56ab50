package gateway

import (
	"io"
	"sync"
)

// keeper holds values that filters share across snapshots (compiled Wasm
// modules, caches). A value lives while at least one live snapshot uses it:
// a reload that keeps a filter's config keeps its state, and the last
// snapshot to let go of a value closes it.
type keeper struct {
	mu       sync.Mutex
	vals     map[string]*keptValue
	building uint64 // the generation being built; its gets are recorded as users
}

type keptValue struct {
	v     io.Closer
	users map[uint64]bool // generations using the value
}

func newKeeper() *keeper { return &keeper{vals: map[string]*keptValue{}} }

// begin starts recording uses for generation gen.
func (k *keeper) begin(gen uint64) {
	k.mu.Lock()
	k.building = gen
	k.mu.Unlock()
}

// get is filter.BuildContext.Keep.
func (k *keeper) get(key string, create func() (io.Closer, error)) (io.Closer, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	kv, ok := k.vals[key]
	if !ok {
		v, err := create()
		if err != nil {
			return nil, err
		}
		kv = &keptValue{v: v, users: map[uint64]bool{}}
		k.vals[key] = kv
	}
	kv.users[k.building] = true
	return kv.v, nil
}

// release drops generation gen's uses (its snapshot retired, or its build
// failed) and closes the values nobody uses any more.
func (k *keeper) release(gen uint64) {
	k.mu.Lock()
	var unused []io.Closer
	for key, kv := range k.vals {
		delete(kv.users, gen)
		if len(kv.users) == 0 {
			unused = append(unused, kv.v)
			delete(k.vals, key)
		}
	}
	k.mu.Unlock()
	for _, v := range unused {
		_ = v.Close()
	}
}
