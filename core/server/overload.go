package server

import (
	"net/http"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
)

// The overload manager (Envoy's, reduced to the heap): a ticker reads the
// heap size from runtime/metrics, which is cheap and does not stop the
// world, and sets a level that the accept path and the request path read
// with one atomic load. Past heap_soft, new connections are refused; past
// heap_hard, requests too, with 503 and "Connection: close", so clients go
// elsewhere and the memory their connections hold is freed. Both act before
// the kernel's OOM killer would end every connection at once.

// heapSample is the heap figure compared with the thresholds: memory held
// by live objects and by dead ones not yet swept.
const heapSample = "/memory/classes/heap/objects:bytes"

// overloadInterval is how often the heap is read. A burst can outgrow
// the thresholds between two reads; heap_hard should leave room for that.
const overloadInterval = 100 * time.Millisecond

const (
	levelNormal int32 = iota
	levelSoft         // refuse new connections
	levelHard         // and refuse requests
)

// overload is a Server's overload manager.
type overload struct {
	level      atomic.Int32
	shed       atomic.Uint64 // requests refused past hard (stats.go)
	soft, hard atomic.Int64  // bytes; 0 is off

	mu      sync.Mutex
	running bool
	stop    chan struct{}
	done    chan struct{}
	read    func() int64 // the heap figure; a test may replace it
}

func (o *overload) refusingConnections() bool { return o.level.Load() >= levelSoft }
func (o *overload) refusingRequests() bool    { return o.level.Load() >= levelHard }

// SetOverload applies server.overload; it starts the monitor on first use
// and stops it when both thresholds are off. It is safe to call on every
// reload.
func (s *Server) SetOverload(c config.Overload) {
	s.overload.configure(int64(c.HeapSoft), int64(c.HeapHard))
}

func (o *overload) configure(soft, hard int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.soft.Store(soft)
	o.hard.Store(hard)
	on := soft > 0 || hard > 0
	switch {
	case on && !o.running:
		if o.read == nil {
			o.read = readHeap
		}
		o.running = true
		o.stop, o.done = make(chan struct{}), make(chan struct{})
		go o.monitor(o.stop, o.done)
	case !on && o.running:
		o.halt()
	}
	if on {
		o.check() // the new thresholds hold from now, not from the next tick
	} else {
		o.level.Store(levelNormal)
	}
}

func (o *overload) monitor(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(overloadInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			o.check()
		}
	}
}

func (o *overload) check() {
	heap := o.read()
	level := levelNormal
	if soft := o.soft.Load(); soft > 0 && heap >= soft {
		level = levelSoft
	}
	if hard := o.hard.Load(); hard > 0 && heap >= hard {
		level = levelHard
	}
	o.level.Store(level)
}

// close stops the monitor for good (Shutdown).
func (o *overload) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.running {
		o.halt()
	}
}

func (o *overload) halt() {
	close(o.stop)
	<-o.done
	o.running = false
	o.level.Store(levelNormal)
}

func readHeap() int64 {
	s := [1]metrics.Sample{{Name: heapSample}}
	metrics.Read(s[:])
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}

// overloadBody is the answer to a request refused past heap_hard.
const overloadBody = `{"error":"gateway overloaded","status":503}`

// shedRequest answers 503 and asks the client to go: on HTTP/1.1 the
// connection closes after the response; on HTTP/2 net/http turns
// "Connection: close" into a GOAWAY.
func (o *overload) shedRequest(w http.ResponseWriter) {
	o.shed.Add(1)
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Retry-After"] = []string{"1"}
	h["Connection"] = []string{"close"}
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(overloadBody))
}
