// Package h1 is the gateway's own HTTP/1.1 client for upstream targets: the
// request is written and the response read on the caller's goroutine, over
// pooled connections whose bufio buffers are shared through sync.Pools
// while the connections sit idle. It replaces http.Transport for upstreams
// with protocol http1 (h2 and h2c keep x/net/http2 through net/http).
//
// A Pool is the connections to one target. It is an http.RoundTripper, so
// the proxy's attempt loop, health checks and Wasm callouts use it as they
// used http.Transport; the response it returns is an ordinary
// *http.Response whose body gives the connection back to the pool when it
// is read to a clean end.
//
// A connection is reused only when nothing about the exchange leaves doubt
// about where the next response starts: the response was read to its end,
// it was HTTP/1.1 without "Connection: close", its framing was unambiguous
// (no Transfer-Encoding beside Content-Length, no field dropped), no byte
// followed it, and the exchange was not cancelled. Before a pooled
// connection is reused, a non-blocking peek at its socket (Linux) finds a
// peer that closed it, or bytes nobody asked for, and the connection is
// dropped instead; the peek is left out for a request that a stale
// connection's failure would send again anyway (idempotent, no body) on a
// connection idle for less than unpeekedIdle, the common case under load.
// A reused connection that still fails before any byte of the response
// arrived is retried once on a fresh connection, for any method, as long as
// the request body can be sent again (none, GetBody, or none of it read
// yet).
package h1

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Config is how a pool reaches its target. It is fixed when the pool is
// built.
type Config struct {
	// TLS is the client config for https targets (ServerName set to the
	// name to verify); nil dials plain TCP.
	TLS                   *tls.Config
	ConnectTimeout        time.Duration // dial and TLS handshake; 0: none
	ResponseHeaderTimeout time.Duration // from the request written to the final response head; 0: none
	IdleTimeout           time.Duration // an idle connection is closed after this; 0: never
	MaxIdle               int           // idle connections kept (0: 2, as net/http)
	MaxConns              int           // connections open at once, idle included; 0: no cap
	MaxHeaderBytes        int           // per response head (and trailer section); 0: 64 KiB
	KeepAlive             time.Duration // TCP keep-alive probes; 0: 30s
	Resolver              *net.Resolver // resolves a host name in the address; nil: the system's
}

const (
	defaultMaxIdle        = 2
	defaultMaxHeaderBytes = 64 << 10
	readBufferSize        = 16 << 10
	writeBufferSize       = 16 << 10
)

// Pool holds the connections to one target address. It is safe for
// concurrent use.
type Pool struct {
	addr   string // host:port
	cfg    Config
	dialer net.Dialer

	mu       sync.Mutex
	idle     []*conn // oldest first; reuse takes the newest
	open     int     // dialing, in use or idle
	waiters  []chan *conn
	closed   bool
	sweep    *time.Timer
	sweeping bool

	dials atomic.Uint64
}

// NewPool returns the pool of connections to addr (host:port).
func NewPool(addr string, c Config) *Pool {
	if c.MaxIdle <= 0 {
		c.MaxIdle = defaultMaxIdle
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = defaultMaxHeaderBytes
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = 30 * time.Second
	}
	return &Pool{addr: addr, cfg: c, dialer: net.Dialer{Timeout: c.ConnectTimeout, KeepAlive: c.KeepAlive, Resolver: c.Resolver}}
}

// Stats is what a pool holds now: connections open (in use and idle) and
// idle, and how many it has dialed since it was built.
type Stats struct {
	Open, Idle int
	Dials      uint64
}

// Stats reports the pool's connections.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{Open: p.open, Idle: len(p.idle), Dials: p.dials.Load()}
}

// CloseIdleConnections closes the connections not in use; those in use are
// closed or pooled when their exchange ends.
func (p *Pool) CloseIdleConnections() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.open -= len(idle)
	p.mu.Unlock()
	for _, c := range idle {
		c.close()
	}
}

// Close closes the idle connections and makes every connection close when
// its exchange ends. A request after Close still goes through, on a
// connection of its own (as http.Transport's after CloseIdleConnections):
// a filter kept across a reload, or a request that took a snapshot just
// before it was retired, may still hold the pool.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	if p.sweep != nil {
		p.sweep.Stop()
	}
	for _, w := range p.waiters {
		w <- nil // a slot: the waiter dials, and closes the connection after
	}
	p.waiters = nil
	p.mu.Unlock()
	p.CloseIdleConnections()
}

// get returns a connection for one exchange: the most recently idle one
// that is still sound, unless fresh is asked, else a new one, waiting for a
// slot when MaxConns are open.
// retrySafe is a request that a stale connection's failure would send
// again on a fresh one (see exchange).
func (p *Pool) get(ctx context.Context, trace *httptrace.ClientTrace, fresh, retrySafe bool) (*conn, error) {
	if trace != nil && trace.GetConn != nil {
		trace.GetConn(p.addr)
	}
	c, err := p.take(ctx, fresh, retrySafe)
	if err == nil && trace != nil && trace.GotConn != nil {
		trace.GotConn(httptrace.GotConnInfo{Conn: c.nc, Reused: c.reused})
	}
	return c, err
}

func (p *Pool) take(ctx context.Context, fresh, retrySafe bool) (*conn, error) {
	for {
		p.mu.Lock()
		if n := len(p.idle); n > 0 && !fresh {
			c := p.idle[n-1]
			p.idle[n-1] = nil
			p.idle = p.idle[:n-1]
			p.mu.Unlock()
			if c.sound(p.cfg.IdleTimeout, retrySafe) {
				c.reused = true
				c.attach()
				return c, nil
			}
			p.discard(c)
			continue
		}
		if p.cfg.MaxConns <= 0 || p.open < p.cfg.MaxConns {
			p.open++
			p.mu.Unlock()
			return p.dial(ctx)
		}
		w := make(chan *conn, 1)
		p.waiters = append(p.waiters, w)
		p.mu.Unlock()
		select {
		case c := <-w:
			if c == nil {
				return p.dial(ctx) // the slot of a connection that closed
			}
			c.reused = true
			return c, nil
		case <-ctx.Done():
			p.mu.Lock()
			for i, o := range p.waiters {
				if o == w {
					p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
					break
				}
			}
			p.mu.Unlock()
			select { // handed over before we left the queue: pass it on
			case c := <-w:
				if c == nil {
					p.freeSlot()
				} else {
					p.put(c)
				}
			default:
			}
			return nil, ctx.Err()
		}
	}
}

// dial opens a connection in a slot already counted in p.open.
func (p *Pool) dial(ctx context.Context) (*conn, error) {
	p.dials.Add(1)
	if p.cfg.ConnectTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.cfg.ConnectTimeout)
		defer cancel()
	}
	raw, err := p.dialer.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		p.freeSlot()
		return nil, err
	}
	c := &conn{pool: p, nc: raw}
	if tc, ok := raw.(*net.TCPConn); ok {
		if rc, err := tc.SyscallConn(); err == nil {
			c.rc = rc
		}
	}
	if p.cfg.TLS != nil {
		tc := tls.Client(raw, p.cfg.TLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			p.freeSlot()
			return nil, err
		}
		st := tc.ConnectionState()
		c.nc, c.tls = tc, &st
	}
	c.init()
	c.attach()
	return c, nil
}

// put gives back a connection whose exchange ended cleanly: to a waiter,
// else to the idle list, else (the list is full, or the pool closed) it is
// closed.
func (p *Pool) put(c *conn) {
	p.mu.Lock()
	if p.closed {
		p.open--
		p.mu.Unlock()
		c.close()
		return
	}
	if len(p.waiters) > 0 {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		w <- c // buffered: never blocks, and sent under the lock (see take)
		p.mu.Unlock()
		return
	}
	if len(p.idle) >= p.cfg.MaxIdle {
		p.open--
		p.mu.Unlock()
		c.close()
		return
	}
	c.detach()
	c.idleAt = time.Now()
	p.idle = append(p.idle, c)
	if p.cfg.IdleTimeout > 0 && !p.sweeping {
		p.sweeping = true
		if p.sweep == nil {
			p.sweep = time.AfterFunc(p.cfg.IdleTimeout, p.sweepIdle)
		} else {
			p.sweep.Reset(p.cfg.IdleTimeout)
		}
	}
	p.mu.Unlock()
}

// discard closes a connection that is not to be reused and frees its slot.
func (p *Pool) discard(c *conn) {
	c.close()
	p.freeSlot()
}

// freeSlot hands a closed connection's slot to a waiter, or forgets it.
func (p *Pool) freeSlot() {
	p.mu.Lock()
	if len(p.waiters) > 0 {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		w <- nil
	} else {
		p.open--
	}
	p.mu.Unlock()
}

// sweepIdle closes the connections idle for IdleTimeout and runs again
// when the oldest of the others will be.
func (p *Pool) sweepIdle() {
	now := time.Now()
	p.mu.Lock()
	i := 0
	for i < len(p.idle) && now.Sub(p.idle[i].idleAt) >= p.cfg.IdleTimeout {
		i++
	}
	expired := make([]*conn, i)
	copy(expired, p.idle[:i])
	n := copy(p.idle, p.idle[i:])
	clear(p.idle[n:])
	p.idle = p.idle[:n]
	p.open -= i
	if n > 0 && !p.closed {
		p.sweep.Reset(p.cfg.IdleTimeout - now.Sub(p.idle[0].idleAt))
	} else {
		p.sweeping = false
	}
	p.mu.Unlock()
	for _, c := range expired {
		c.close()
	}
}

// conn is one connection to the target.
type conn struct {
	pool   *Pool
	nc     net.Conn        // what requests are written to (TLS or TCP)
	rc     syscall.RawConn // the TCP socket, for the liveness peek
	tls    *tls.ConnectionState
	br     *bufio.Reader
	bw     *bufio.Writer
	head   []byte // the response head being read
	idleAt time.Time
	reused bool

	abortFn   func()             // c.abort, bound once
	peekFn    func(uintptr) bool // c.peek, bound once
	peekBuf   [1]byte
	peekAlive bool

	// The request's last flush, fused with the wait for the response
	// (flush.go).
	awaiting     bool
	partSent     bool               // some of the request left before its last flush
	out          []byte             // what is left to write in the callback
	sent         int                // how much of out the callback wrote
	headTimed    bool               // the response header timeout was set before the write
	ready        bool               // the wait ended with the socket readable
	probing      bool               // the read deadline in force is the probe's (see writeAndAwait)
	headDeadline time.Time          // the header timeout's, while probing
	writeWaitFn  func(uintptr) bool // c.writeWait, bound once

	// The exchange's context watch (see watch); wmu guards wctx and
	// stopWatch against the timer's goroutine.
	wmu        sync.Mutex
	wctx       context.Context // the exchange's, while it is watched
	stopWatch  func() bool     // stops the context.AfterFunc, once registered
	watchTimer *time.Timer     // registers it; made on first use
	lateFn     func()          // c.lateWatch, bound once
	cancelled  atomic.Bool     // the exchange's context ended: the connection is dead
}

func (c *conn) init() {
	c.abortFn = c.abort
	c.peekFn = c.peek
	c.writeWaitFn = c.writeWait
	c.lateFn = c.lateWatch
}

var (
	readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}
	writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, writeBufferSize) }}
)

// attach gives the connection its buffers for an exchange.
func (c *conn) attach() {
	if c.br == nil {
		c.br = readers.Get().(*bufio.Reader)
		c.br.Reset(c.nc)
		c.bw = writers.Get().(*bufio.Writer)
		c.bw.Reset((*connWriter)(c))
	}
}

// detach returns the buffers of an idle connection (both are empty: the
// writer was flushed, and a reader holding bytes never goes idle).
func (c *conn) detach() {
	if c.br != nil {
		c.br.Reset(nil)
		readers.Put(c.br)
		c.bw.Reset(nil)
		writers.Put(c.bw)
		c.br, c.bw = nil, nil
	}
	if cap(c.head) > 4<<10 {
		c.head = nil
	}
}

// close closes the socket. Its buffers are left to the collector: a
// connection closed from outside its exchange may still be read by it.
func (c *conn) close() { c.nc.Close() }

// closeOwned closes the socket from the goroutine of its exchange, which
// is done with the buffers: they go back to the pools.
func (c *conn) closeOwned() {
	c.nc.Close()
	c.detach()
}

// sound reports whether an idle connection may carry another exchange:
// not idle too long, and its socket neither closed by the peer nor
// holding bytes nobody asked for. The peek that tells (a recv(2) per
// reuse, a tenth of the syscalls of a proxied request) is left out for a
// retry-safe request on a connection idle for less than unpeekedIdle: a
// peer that closed it is found by the exchange, which sends the request
// again on a fresh connection. Bytes nobody asked for are still found when
// they came with the response (the read buffer is not empty: the
// connection was never pooled), or, on a connection idle longer, by the
// peek.
func (c *conn) sound(idleTimeout time.Duration, retrySafe bool) bool {
	idle := time.Since(c.idleAt)
	if idleTimeout > 0 && idle >= idleTimeout {
		return false
	}
	if retrySafe && idle < unpeekedIdle {
		return true
	}
	return c.alive()
}

// unpeekedIdle is how long a connection may have been idle and still be
// reused without the peek, for a retry-safe request.
const unpeekedIdle = 10 * time.Millisecond

// watch ties the exchange to ctx: when ctx ends, the connection's deadline
// is moved to the past, which fails any read or write in progress and
// marks the connection dead.
//
// The context.AfterFunc that does it is registered only once the exchange
// has run for watchDelay (a reused timer does that): registering and
// removing it cost four allocations and a lock on the request's context
// for every exchange, most of which end sooner. A context that ends within
// that delay fails the exchange at the delay, not at once; one already
// ended fails it before it starts.
func (c *conn) watch(ctx context.Context) {
	if ctx.Err() != nil {
		c.abort()
		return
	}
	c.wmu.Lock()
	c.wctx = ctx
	c.wmu.Unlock()
	if c.watchTimer == nil {
		c.watchTimer = time.AfterFunc(watchDelay, c.lateFn)
	} else {
		c.watchTimer.Reset(watchDelay)
	}
}

// watchDelay is how long an exchange runs before its context is watched.
const watchDelay = 10 * time.Millisecond

// lateWatch runs on the timer's goroutine: the exchange still runs (or
// a later one does: its watch starts early), so its context is watched.
func (c *conn) lateWatch() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.wctx == nil || c.stopWatch != nil {
		return
	}
	c.stopWatch = context.AfterFunc(c.wctx, c.abortFn)
}

func (c *conn) abort() {
	c.cancelled.Store(true)
	_ = c.nc.SetDeadline(aLongTimeAgo)
}

// unwatch ends the context watch; false if it already fired.
func (c *conn) unwatch() bool {
	c.wmu.Lock()
	stop := c.stopWatch
	c.wctx, c.stopWatch = nil, nil
	c.wmu.Unlock()
	if c.watchTimer != nil {
		c.watchTimer.Stop()
	}
	if stop == nil {
		return !c.cancelled.Load()
	}
	return stop() && !c.cancelled.Load()
}

var aLongTimeAgo = time.Unix(1, 0)
