package h1

import "time"

// The request's last flush and the wait for the response's first bytes are
// one step on a plain TCP connection (Linux). Go's poller forgets a
// socket's readiness at the start of every read, so a read issued right
// after the request was written finds nothing (the upstream has not
// answered yet) and costs a recv(2) that fails with EAGAIN before the
// goroutine parks. Written from inside a RawConn.Read callback instead, the
// request leaves after the readiness was reset: the callback reports "not
// ready", the goroutine parks at once, and the response's arrival is an
// edge the poller cannot have forgotten. The read that follows finds the
// bytes. One system call less per exchange, a tenth of the gateway's.
//
// Only a request written in that one flush is: once any of it left
// before (a body larger than the write buffer, a chunked one), the upstream
// may already be answering (an echo, an early 413), and the bytes that
// arrived before the readiness reset would be an edge the poller forgot,
// the exchange left waiting for more.
//
// A write the socket does not take whole at once, or one that fails, is
// finished through the net.Conn, which waits for room or reports the error
// as usual. The wait ends early on its deadline (the response header
// timeout's, set before it, or the probe's below) or on the exchange's
// abort; either is left for the read that follows to meet.

// connWriter is what a connection's write buffer flushes to: the socket,
// or for the flush that ends a request, the write-and-wait.
type connWriter conn

func (w *connWriter) Write(p []byte) (int, error) {
	c := (*conn)(w)
	if c.awaiting {
		return c.writeAndAwait(p)
	}
	c.partSent = true
	return c.nc.Write(p)
}

// flushRequest sends what the write buffer holds of the request and, when
// that is all of it, waits for the response's first bytes in the same step.
func (c *conn) flushRequest() error {
	if c.rc == nil || c.tls != nil || c.partSent || !fusedFlush {
		return c.bw.Flush()
	}
	c.awaiting = true
	err := c.bw.Flush()
	c.awaiting = false
	return err
}

// writeAndAwait writes p and waits for the socket to become readable. The
// response header timeout starts here, before the write: headTimed tells
// exchange it is set.
//
// The wait lasts awaitProbe at most: a peer that half-closed a reused
// connection just before (a lingering close, as Apache's on a graceful
// restart), or one that spoke first on a new one (a balancer that accepts
// and shuts down, a service that is not HTTP), sent its bytes before the
// readiness reset, and may send nothing more. After awaitProbe the
// exchange reads the socket itself, which finds the end of stream (and
// sends the request again on a fresh connection) or parks as it did before
// the fusion. The probe's deadline stays while the head is read, so that a
// fast exchange changes its deadline no more often than before; a head
// slower than that to arrive whole gets the header timeout's (extendProbe).
func (c *conn) writeAndAwait(p []byte) (int, error) {
	now := time.Now()
	var head time.Time // the response header timeout's deadline
	if t := c.pool.cfg.ResponseHeaderTimeout; t > 0 {
		head = now.Add(t)
	}
	wake := now.Add(awaitProbe)
	if !head.IsZero() && head.Before(wake) {
		wake = head
	}
	// After an abort the deadline stays the abort's: the wait fails before
	// the callback runs, and the write below on the same deadline.
	c.setReadDeadline(wake)
	c.out, c.sent, c.ready = p, 0, false
	_ = c.rc.Read(c.writeWaitFn) // an error is a deadline or a close: the read that follows meets it
	n := c.sent
	c.out = nil
	c.headDeadline, c.probing = head, !wake.Equal(head)
	c.headTimed = !head.IsZero()
	if c.probing && (!c.ready || n < len(p)) {
		// The probe ended the wait (or the write goes on below): the
		// header timeout's deadline from now on, or none.
		c.setReadDeadline(head)
		c.probing = false
	}
	if n == len(p) {
		return n, nil
	}
	c.headTimed = false // the timeout starts once the rest is written
	m, err := c.nc.Write(p[n:])
	return n + m, err
}

// extendProbe replaces the probe's deadline, which a response head slower
// to arrive whole than awaitProbe met, with the header timeout's; false if
// the deadline met was not the probe's.
func (c *conn) extendProbe() bool {
	if !c.probing || c.cancelled.Load() {
		return false
	}
	c.probing = false
	c.setReadDeadline(c.headDeadline)
	return !c.cancelled.Load()
}

// setReadDeadline sets the read deadline unless the exchange was aborted,
// whose deadline in the past it must not replace: abort marks the
// connection before it sets its deadline, so a mark seen after this one is
// set means the abort's may have come first and is put back.
func (c *conn) setReadDeadline(t time.Time) {
	if c.cancelled.Load() {
		return
	}
	_ = c.nc.SetReadDeadline(t)
	if c.cancelled.Load() {
		c.abort()
	}
}

// awaitProbe bounds the fused wait (see writeAndAwait): as long as a
// connection may idle and be reused without its liveness peek.
const awaitProbe = unpeekedIdle
