package h1s

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Connection states, for Shutdown.
const (
	stateNew int32 = iota
	stateActive
	stateIdle
)

// conn is one client connection and everything that lives across its
// requests.
type conn struct {
	srv        *Server
	nc         net.Conn        // as accepted
	raw        syscall.RawConn // of the TCP socket under a plain connection; nil over TLS
	remoteAddr string
	ctx        context.Context
	started    time.Time
	state      atomic.Int32

	cr connReader
	br *bufio.Reader // nil while idle, on a plain connection
	bw *bufio.Writer // nil while idle

	waitFn   func(uintptr) bool // c.waitReadable, made once
	armFn    func()             // c.cr.armWatch, made once
	peeked   bool
	head     []byte // a head that outgrew the read buffer, reused
	lastPOST bool
	werr     error // a write failed: the connection is done
	hijacked bool

	// The server's own deadlines change several times per request (head,
	// whole request, response, idle), and each change is a runtime timer
	// update, while most of them never meet a read or a write that could
	// block. So they are wanted (rd, wd) and set on the socket (rdSet,
	// wdSet) only before such a read or write, and only when they differ
	// from the one in force. A handler's own, through
	// http.ResponseController, are too, except a read deadline or a write
	// deadline while a write is under way (to interrupt it): those are
	// set at once. Guarded by cr.mu.
	rd, rdSet time.Time
	wd, wdSet time.Time
	readable  bool // the idle wait saw the socket readable: the next read returns at once
	writing   bool // a write is under way: a new write deadline is set at once
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{srv: s, nc: nc, started: time.Now()}
	c.cr.c = c
	c.cr.cond.L = &c.cr.mu
	if ra := nc.RemoteAddr(); ra != nil {
		c.remoteAddr = ra.String()
	}
	c.raw = rawConnOf(nc)
	c.waitFn = c.waitReadable
	c.armFn = c.cr.armWatch
	return c
}

// rawConnOf finds the TCP socket under the wrappers of a plain connection
// (they expose it as NetConn), for the idle wait; nil under TLS, whose
// records must be read through the TLS layer.
func rawConnOf(nc net.Conn) syscall.RawConn {
	for range 8 {
		switch x := nc.(type) {
		case *tls.Conn:
			return nil
		case *net.TCPConn:
			rc, err := x.SyscallConn()
			if err != nil {
				return nil
			}
			return rc
		case interface{ NetConn() net.Conn }:
			nc = x.NetConn()
		default:
			return nil
		}
	}
	return nil
}

func (c *conn) serve() {
	s := c.srv
	ctx := s.BaseContext
	if ctx == nil {
		ctx = context.Background()
	}
	ctx = context.WithValue(ctx, http.LocalAddrContextKey, c.nc.LocalAddr())
	if s.ConnContext != nil {
		ctx = s.ConnContext(ctx, c.nc)
	}
	c.ctx = ctx

	var inFlight *response
	defer func() {
		if err := recover(); err != nil && err != http.ErrAbortHandler {
			const size = 64 << 10
			buf := make([]byte, size)
			buf = buf[:runtime.Stack(buf, false)]
			s.logf("http: panic serving "+c.remoteAddr, "panic", err, "stack", string(buf))
		}
		if inFlight != nil {
			inFlight.cancel()
			inFlight.disableWriteContinue()
		}
		if !c.hijacked {
			if inFlight != nil {
				c.cr.abortPendingRead()
				inFlight.reqBody.Close()
			}
			c.close()
		}
		s.track(c, false)
	}()

	if d := s.ReadHeaderTimeout; d > 0 {
		c.wantRead(time.Now().Add(d))
	}
	c.takeBuffers()
	for {
		w, err := c.readRequest()
		if err == nil || c.cr.read > 0 {
			// A request is under way, even one that was already
			// buffered (pipelined): Shutdown must not close it as idle.
			c.state.Store(stateActive)
		}
		if s.shutdown.Load() && err == nil {
			// Shutdown closed this connection as idle while the request
			// arrived; net/http drops it too. core/server waits for its
			// HTTP/1 connections to end before shutting down.
			return
		}
		if err != nil {
			c.answerError(err)
			return
		}
		req := w.req
		if expectsContinue(req) {
			if req.ProtoAtLeast(1, 1) && req.ContentLength != 0 {
				e := &expectContinue{body: w.body, w: w}
				req.Body = e
				w.ecr = e
				w.canWriteContinue.Store(true)
			}
		} else if req.Header["Expect"] != nil && req.Header["Expect"][0] != "" {
			w.sendExpectationFailed()
			return
		}
		c.cr.begin()
		if w.body != nil && w.body.remains() {
			w.body.registerOnHitEOF(c.armFn)
		} else {
			c.cr.armWatch()
		}

		inFlight = w
		if req.RequestURI == "*" && req.Method == http.MethodOptions {
			globalOptions(w, req)
		} else {
			s.Handler.ServeHTTP(w, req)
		}
		inFlight = nil
		w.cancel()
		if c.hijacked {
			return
		}
		w.finishRequest()
		c.wantWrite(time.Time{})
		if !w.shouldReuseConnection() {
			if w.closedRequestBodyEarly() {
				c.closeWriteAndWait()
			}
			return
		}
		c.state.Store(stateIdle)
		if s.shutdown.Load() {
			return
		}
		if d := s.IdleTimeout; d > 0 {
			c.wantRead(time.Now().Add(d))
		} else {
			c.wantRead(time.Time{})
		}
		if !c.waitIdle() {
			return
		}
		if d := s.ReadHeaderTimeout; d > 0 {
			c.wantRead(time.Now().Add(d))
		} else {
			c.wantRead(time.Time{})
		}
	}
}

// wantRead and wantWrite ask for a deadline, set before the next socket
// read or write (see conn.rd).
func (c *conn) wantRead(t time.Time) {
	c.cr.mu.Lock()
	c.rd = t
	c.cr.mu.Unlock()
}

func (c *conn) wantWrite(t time.Time) {
	c.cr.mu.Lock()
	c.wd = t
	c.cr.mu.Unlock()
}

// applyReadLocked sets the wanted read deadline on the socket before a
// read that could block.
func (c *conn) applyReadLocked() {
	if c.rd != c.rdSet {
		_ = c.nc.SetReadDeadline(c.rd)
		c.rdSet = c.rd
	}
}

// setReadDeadline and setWriteDeadline set a deadline at once (a
// handler's, or the abort of the background read).
func (c *conn) setReadDeadline(t time.Time) error {
	c.cr.mu.Lock()
	defer c.cr.mu.Unlock()
	return c.setReadDeadlineLocked(t)
}

func (c *conn) setReadDeadlineLocked(t time.Time) error {
	c.rd, c.rdSet, c.readable = t, t, false
	return c.nc.SetReadDeadline(t)
}

// handlerWriteDeadline is a handler's write deadline: set with the next
// write, or at once if one is under way. (The proxy sets one per request,
// before it writes the response.)
func (c *conn) handlerWriteDeadline(t time.Time) error {
	c.cr.mu.Lock()
	defer c.cr.mu.Unlock()
	c.wd = t
	if c.writing {
		c.wdSet = t
		return c.nc.SetWriteDeadline(t)
	}
	return nil
}

func (c *conn) setWriteDeadline(t time.Time) error {
	c.cr.mu.Lock()
	defer c.cr.mu.Unlock()
	c.wd, c.wdSet = t, t
	return c.nc.SetWriteDeadline(t)
}

// waitIdle waits for the next request's first bytes. On a plain
// connection with nothing buffered, it gives the read and write buffers
// back to their pools and waits for the socket to become readable without
// reading from it: an idle keep-alive connection then costs its goroutine
// and a few hundred bytes, not 8 KiB of buffers.
func (c *conn) waitIdle() bool {
	_ = c.bw.Flush()
	if c.br.Buffered() > 0 || c.cr.hasByte {
		return true
	}
	if c.raw == nil {
		_, err := c.br.Peek(1)
		return err == nil
	}
	c.releaseBuffers()
	c.peeked = false
	// The wait is under the idle deadline (the one in force may have
	// passed while the handler ran: the wait would fail at once).
	c.cr.mu.Lock()
	c.applyReadLocked()
	c.cr.mu.Unlock()
	if err := c.raw.Read(c.waitFn); err != nil {
		return false
	}
	c.cr.mu.Lock()
	c.readable = true
	c.cr.mu.Unlock()
	c.takeBuffers()
	return true
}

// waitReadable is the idle wait's callback: a peek first, then whatever
// the poller reports is for a real read to tell.
func (c *conn) waitReadable(fd uintptr) bool {
	if c.peeked {
		return true
	}
	c.peeked = true
	return peekReadable(fd)
}

func (c *conn) takeBuffers() {
	c.br = getReader(&c.cr)
	c.bw = getWriter(c)
	c.srv.buffered.Add(1)
}

// releaseBuffers gives the buffers back; the read buffer must be empty.
func (c *conn) releaseBuffers() {
	if c.br == nil {
		return
	}
	putReader(c.br)
	putWriter(c.bw)
	c.br, c.bw = nil, nil
	c.srv.buffered.Add(-1)
}

func (c *conn) close() {
	if c.bw != nil {
		_ = c.bw.Flush()
	}
	c.releaseBuffers()
	c.nc.Close()
}

// rstAvoidanceDelay is net/http's: after an answer to a request whose body
// is left unread, the client gets time to read it before the reset.
const rstAvoidanceDelay = 500 * time.Millisecond

func (c *conn) closeWriteAndWait() {
	if c.bw != nil {
		_ = c.bw.Flush()
	}
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	time.Sleep(rstAvoidanceDelay)
}

// answerError answers a request that could not be read, if it is worth an
// answer, in the gateway's JSON error shape, and ends the connection.
func (c *conn) answerError(err error) {
	var code int
	var reason string
	switch e := err.(type) {
	case *statusError:
		code, reason = e.code, e.reason
	default:
		if err == errTooLarge {
			code, reason = http.StatusRequestHeaderFieldsTooLarge, "request header fields too large"
		} else if err == io.ErrUnexpectedEOF {
			code, reason = http.StatusBadRequest, "incomplete request"
		} else if isCommonNetReadError(err) {
			return
		} else {
			code, reason = http.StatusBadRequest, "malformed request"
		}
	}
	body := `{"error":` + strconv.Quote(reason) + `,"status":` + strconv.Itoa(code) + "}\n"
	b := appendStatusLine(make([]byte, 0, 256), true, code)
	b = append(b, "Content-Type: application/json\r\nConnection: close\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, body...)
	_ = c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = c.nc.Write(b)
	if code == http.StatusRequestHeaderFieldsTooLarge {
		c.closeWriteAndWait()
	}
}

func expectsContinue(r *http.Request) bool {
	v := r.Header["Expect"]
	return len(v) > 0 && hasToken(v[0], "100-continue")
}

// readRequest reads the next request head and prepares its response.
func (c *conn) readRequest() (*response, error) {
	s := c.srv
	t0 := time.Now()
	var wholeReqDeadline time.Time
	if d := s.ReadTimeout; d > 0 {
		wholeReqDeadline = t0.Add(d)
	}
	c.cr.read = 0
	if c.lastPOST {
		// RFC 7230 §3.5 tolerance for old clients, as net/http: up to
		// four CR or LF bytes after a POST's body.
		peek, _ := c.br.Peek(4)
		n := 0
		for n < len(peek) && (peek[n] == '\r' || peek[n] == '\n') {
			n++
		}
		_, _ = c.br.Discard(n)
	}
	head, fromBuf, err := c.readHead()
	if err != nil {
		return nil, err
	}

	x := new(exchange)
	var parsed http.Request
	h2Upgrade, err := parseHead(&parsed, head, &x.vals)
	if fromBuf {
		_, _ = c.br.Discard(len(head))
	}
	if err != nil {
		return nil, err
	}
	c.lastPOST = parsed.Method == http.MethodPost

	// The context is a Request field only WithContext sets: the one copy
	// of the Request that costs.
	ctx, cancel := context.WithCancel(c.ctx)
	r := parsed.WithContext(ctx)
	r.RemoteAddr = c.remoteAddr
	w := &x.w
	w.c = c
	w.req = r
	w.cancel = cancel
	w.contentLength = -1
	c.cr.setCancel(cancel)

	switch {
	case len(r.TransferEncoding) > 0:
		x.body.initChunked(c.br, r)
		r.Body = &x.body
		w.body = &x.body
	case r.ContentLength > 0:
		x.body.initLength(c.br, r.ContentLength)
		r.Body = &x.body
		w.body = &x.body
	default:
		r.Body = http.NoBody
	}
	w.reqBody = r.Body
	if h2Upgrade {
		r.ContentLength = -1
		r.Close = true
		w.closeAfterReply = true
	}
	w.wants10KeepAlive = r.ProtoMajor == 1 && r.ProtoMinor == 0 && hasToken(headerGet(r.Header, "Connection"), "keep-alive")
	w.wantsClose = r.Close || hasToken(headerGet(r.Header, "Connection"), "close")
	w.isHEAD = r.Method == http.MethodHead

	c.cr.mu.Lock()
	c.rd = wholeReqDeadline
	if d := s.WriteTimeout; d > 0 {
		c.wd = time.Now().Add(d)
	}
	c.cr.mu.Unlock()
	return w, nil
}

// readHead returns the next head's bytes: a slice of the read buffer
// (fromBuf, to be discarded once parsed) when the head fits in it, or of
// c.head when it outgrew it.
func (c *conn) readHead() (head []byte, fromBuf bool, err error) {
	br := c.br
	limit := c.srv.maxHeaderBytes() + 4096
	// Most heads arrive whole in one read: look for the end in the
	// buffer, reading more until it is full.
	lineChecked := false
	for {
		n := br.Buffered()
		buf, _ := br.Peek(n)
		if n > 0 {
			nl := indexByte(buf, '\n')
			if nl >= 0 {
				if !lineChecked {
					if err := checkRequestLine(buf[:nl+1]); err != nil {
						return nil, false, err
					}
					lineChecked = true
				}
				if end := headEnd(buf, nl); end >= 0 {
					if end > limit {
						return nil, false, errTooLarge
					}
					return buf[:end], true, nil
				}
			}
		}
		if n >= br.Size() || n > limit {
			break
		}
		if _, err := br.Peek(n + 1); err != nil {
			// No more bytes come: fewer than n+1 are buffered.
			if n > 0 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, false, err
		}
	}
	// A head larger than the read buffer: gather it line by line.
	h := c.head[:0]
	nl := -1
	for {
		line, err := br.ReadSlice('\n')
		if len(h)+len(line) > limit {
			return nil, false, errTooLarge
		}
		h = append(h, line...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, false, err
		}
		if nl < 0 {
			nl = len(h) - 1
			if err := checkRequestLine(h); err != nil {
				return nil, false, err
			}
			continue
		}
		if len(line) == 1 || len(line) == 2 && line[0] == '\r' {
			break
		}
	}
	if cap(h) <= 64<<10 {
		c.head = h
	}
	return h, false, nil
}

// checkRequestLine refuses a request line net/http would refuse, as soon
// as it is read (the client may be waiting for the answer before it sends
// more).
func checkRequestLine(line []byte) error {
	if validRequestLine(line) {
		return nil
	}
	// Only the parser's own verdict on the line: the version and the
	// fields are checked once the head is whole, as net/http does.
	head := make([]byte, 0, len(line)+2)
	head = append(append(head, line...), '\r', '\n')
	if _, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head))); err != nil {
		return badRequest(reasonOf(err))
	}
	return nil
}

// validRequestLine is the fast parser's request line check.
func validRequestLine(line []byte) bool {
	n := len(line)
	if n < 2 || line[n-2] != '\r' {
		return false
	}
	l := line[:n-2]
	sp1 := indexByte(l, ' ')
	if sp1 < 1 {
		return false
	}
	rest := l[sp1+1:]
	sp2 := indexByte(rest, ' ')
	if sp2 < 1 {
		return false
	}
	v := string(rest[sp2+1:])
	return v == "HTTP/1.1" || v == "HTTP/1.0"
}

func indexByte(b []byte, c byte) int { return bytes.IndexByte(b, c) }

func (s *Server) maxHeaderBytes() int {
	if s.MaxHeaderBytes > 0 {
		return s.MaxHeaderBytes
	}
	return http.DefaultMaxHeaderBytes
}

// exchange is a request and its response in one allocation.
type exchange struct {
	w    response
	body body
	vals [maxFastValues]string
}

// connReader is between the connection and its read buffer: it is
// net/http's connReader, with the background read started late. While a
// handler runs with the request body read to its end (or none), a read of
// one byte watches the connection, so that a client that goes away cancels
// the request's context, and with it the upstream request; the byte, if
// one comes (a pipelined request), is kept for the next read. net/http
// starts that read, on a goroutine of its own, for every request; here a
// timer starts it once the handler has run for watchDelay, so the many
// requests answered sooner cost neither the goroutine, nor the read (a
// wasted recv(2)), nor the two deadline changes that stop it.
type connReader struct {
	c    *conn
	mu   sync.Mutex
	cond sync.Cond
	read int64 // bytes read since the head started

	hasByte   bool
	byteBuf   [1]byte
	inRead    bool
	aborted   bool
	cancelCtx context.CancelFunc

	active   bool        // a handler runs: the watch may be armed
	watching bool        // the watch is armed (the timer set, or the read under way)
	timer    *time.Timer // starts the watch; made on first use
}

// watchDelay is how long a handler runs before a client that leaves is
// watched for. A client gone sooner is noticed at this delay at the
// latest (or when the response is written), and the upstream request it
// abandoned runs that much longer: a bound worth the saving on every
// request answered within it.
const watchDelay = 100 * time.Millisecond

func (cr *connReader) setCancel(f context.CancelFunc) {
	cr.mu.Lock()
	cr.cancelCtx = f
	cr.mu.Unlock()
}

// begin marks the start of a handler: the watch may be armed until
// abortPendingRead.
func (cr *connReader) begin() {
	cr.mu.Lock()
	cr.active = true
	cr.mu.Unlock()
}

// armWatch sets the timer that starts the background read, once the
// request body has been read to its end (or there is none).
func (cr *connReader) armWatch() {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if !cr.active || cr.watching || cr.hasByte {
		return
	}
	cr.watching = true
	if cr.timer == nil {
		cr.timer = time.AfterFunc(watchDelay, cr.startWatch)
	} else {
		cr.timer.Reset(watchDelay)
	}
}

// startWatch runs on the timer's goroutine and does the background read
// there, unless the handler ended meanwhile. (A timer of an earlier
// request that fires late finds the watch of the current one armed, or
// none: it starts that one's read early, or nothing.)
func (cr *connReader) startWatch() {
	cr.mu.Lock()
	if !cr.watching || cr.inRead || cr.hasByte {
		cr.mu.Unlock()
		return
	}
	cr.inRead = true
	cr.c.readable = false
	cr.c.applyReadLocked() // the request's ReadTimeout bounds the watch, as in net/http
	cr.mu.Unlock()
	cr.backgroundRead()
}

func (cr *connReader) backgroundRead() {
	n, err := cr.c.nc.Read(cr.byteBuf[:])
	cr.mu.Lock()
	if n == 1 {
		cr.hasByte = true
	}
	if ne, ok := err.(net.Error); ok && cr.aborted && ne.Timeout() {
		// Ignore this error: it is the expected one from abortPendingRead.
	} else if err != nil {
		cr.handleReadErrorLocked()
	}
	cr.aborted = false
	cr.inRead = false
	cr.mu.Unlock()
	cr.cond.Broadcast()
}

// abortPendingRead ends the watch: the timer is stopped, a read under way
// is interrupted and waited for.
func (cr *connReader) abortPendingRead() {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	cr.active = false
	if cr.watching {
		cr.watching = false
		cr.timer.Stop()
	}
	if !cr.inRead {
		return
	}
	cr.aborted = true
	_ = cr.c.nc.SetReadDeadline(aLongTimeAgo)
	for cr.inRead {
		cr.cond.Wait()
	}
	_ = cr.c.setReadDeadlineLocked(time.Time{})
}

// handleReadErrorLocked cancels the request: its client is gone, or its
// connection failed.
func (cr *connReader) handleReadErrorLocked() {
	if cr.cancelCtx != nil {
		cr.cancelCtx()
	}
}

func (cr *connReader) Read(p []byte) (int, error) {
	cr.mu.Lock()
	if cr.inRead {
		cr.mu.Unlock()
		if cr.c.hijacked {
			panic("h1s: invalid Body.Read call. After hijacked, the original Request must not be used")
		}
		panic("h1s: invalid concurrent Body.Read call")
	}
	if len(p) == 0 {
		cr.mu.Unlock()
		return 0, nil
	}
	if cr.hasByte {
		p[0] = cr.byteBuf[0]
		cr.hasByte = false
		cr.read++
		cr.mu.Unlock()
		return 1, nil
	}
	cr.inRead = true
	if cr.c.readable {
		cr.c.readable = false
	} else {
		cr.c.applyReadLocked()
	}
	cr.mu.Unlock()
	n, err := cr.c.nc.Read(p)

	cr.mu.Lock()
	cr.inRead = false
	if err != nil {
		cr.handleReadErrorLocked()
	}
	cr.read += int64(n)
	cr.mu.Unlock()
	cr.cond.Broadcast()
	return n, err
}

// connWriter is under the write buffer: a failed write ends the
// connection.
type connWriter struct{ c *conn }

func (w connWriter) Write(p []byte) (int, error) {
	c := w.c
	c.cr.mu.Lock()
	if c.wd != c.wdSet {
		_ = c.nc.SetWriteDeadline(c.wd)
		c.wdSet = c.wd
	}
	c.writing = true
	c.cr.mu.Unlock()
	n, err := w.c.nc.Write(p)
	c.cr.mu.Lock()
	c.writing = false
	c.cr.mu.Unlock()
	if err != nil && w.c.werr == nil {
		w.c.werr = err
	}
	return n, err
}

// globalOptions answers "OPTIONS *" as net/http's server does, without the
// handler.
func globalOptions(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", "0")
	if r.ContentLength != 0 {
		mb := http.MaxBytesReader(w, r.Body, 4<<10)
		_, _ = io.Copy(io.Discard, mb)
	}
}
