package hardening

import (
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// faultProxy is a TCP proxy in front of an upstream that breaks what the
// upstream sends back, the way Toxiproxy's downstream toxics do: held back,
// reset, sliced or cut off. It is ours rather than Toxiproxy because these
// four faults are all the tests need, and the library brought a logger, a
// router and a metrics stack into the gateway's module graph.
//
// Faults apply to connections already open too (the gateway pools its
// upstream connections), so each chunk looks up the fault in force.
type faultProxy struct {
	ln     net.Listener
	target string
	fault  atomic.Pointer[fault]
	writes atomic.Int64 // writes to the gateway: shows a slicing was in force

	mu    sync.Mutex
	conns map[*proxiedConn]struct{}
	wg    sync.WaitGroup
}

// fault describes what happens to the upstream's bytes on their way to the
// gateway. The zero value lets everything through.
type fault struct {
	latency time.Duration // every chunk is held this long
	reset   bool          // every connection, open or new, is reset (RST)
	// slice > 0 writes each chunk in pieces of slice±variation bytes,
	// sliceDelay apart.
	slice, variation int
	sliceDelay       time.Duration
	limit            int64 // > 0: the connection is closed after this many bytes
}

func newFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{ln: ln, target: target, conns: map[*proxiedConn]struct{}{}}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() { defer p.wg.Done(); p.serve(c) }()
		}
	}()
	t.Cleanup(p.close)
	return p
}

func (p *faultProxy) addr() string { return p.ln.Addr().String() }

// inject puts f in force until t ends. A reset also resets every open
// connection at once, as Toxiproxy's reset_peer with no timeout does.
func (p *faultProxy) inject(t *testing.T, f fault) {
	p.fault.Store(&f)
	t.Cleanup(func() { p.fault.Store(nil) })
	if f.reset {
		p.mu.Lock()
		for c := range p.conns {
			c.reset()
		}
		p.mu.Unlock()
	}
}

func (p *faultProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

type proxiedConn struct {
	client, up net.Conn
	writes     *atomic.Int64
	once       sync.Once
	done       chan struct{}
}

func (c *proxiedConn) close() {
	c.once.Do(func() {
		close(c.done)
		c.client.Close()
		c.up.Close()
	})
}

// reset closes the gateway's side with SO_LINGER 0, so it reads ECONNRESET
// rather than an orderly end of stream.
func (c *proxiedConn) reset() {
	if tc, ok := c.client.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.close()
}

func (p *faultProxy) serve(client net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	c := &proxiedConn{client: client, up: up, writes: &p.writes, done: make(chan struct{})}
	p.mu.Lock()
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
		c.close()
	}()
	if f := p.fault.Load(); f != nil && f.reset {
		c.reset()
		return
	}
	p.wg.Add(1)
	go func() { // the request direction is never faulted
		defer p.wg.Done()
		io.Copy(up, client)
		c.close()
	}()

	buf := make([]byte, 32<<10)
	var (
		current *fault
		passed  int64 // bytes delivered under current, for limit
	)
	for {
		n, err := up.Read(buf)
		if n > 0 {
			f := p.fault.Load()
			if f != current {
				current, passed = f, 0
			}
			if !c.deliver(f, buf[:n], &passed) {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// deliver writes one chunk from the upstream to the gateway under f,
// reporting whether the connection lives on.
func (c *proxiedConn) deliver(f *fault, b []byte, passed *int64) bool {
	if f == nil {
		c.writes.Add(1)
		_, err := c.client.Write(b)
		return err == nil
	}
	if f.reset {
		c.reset()
		return false
	}
	if f.latency > 0 && !c.wait(f.latency) {
		return false
	}
	cut := false
	if f.limit > 0 && *passed+int64(len(b)) > f.limit {
		b, cut = b[:f.limit-*passed], true
	}
	for len(b) > 0 {
		n := len(b)
		if f.slice > 0 {
			n = max(1, f.slice-f.variation+rand.IntN(2*f.variation+1))
			n = min(n, len(b))
		}
		c.writes.Add(1)
		if _, err := c.client.Write(b[:n]); err != nil {
			return false
		}
		*passed += int64(n)
		b = b[n:]
		if f.slice > 0 && len(b) > 0 && !c.wait(f.sliceDelay) {
			return false
		}
	}
	if cut {
		c.close()
	}
	return !cut
}

// wait holds the stream for d, giving up if the connection ends meanwhile.
func (c *proxiedConn) wait(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-c.done:
		return false
	}
}
