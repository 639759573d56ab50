package h1

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync/atomic"
	"time"
)

// max1xx bounds the informational responses read before the final one,
// whatever the caller does with them.
const max1xx = 16

var errTooMany1xx = badResponse("too many 1xx responses")

// timeoutError is the response header timeout: a net.Error that times out.
type timeoutError struct{}

func (timeoutError) Error() string   { return "timeout awaiting upstream response headers" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// RoundTrip sends req on a pooled connection and reads the response head.
// It implements http.RoundTripper: req is not modified, and its body is
// closed. The response body returns the connection to the pool once read
// to a clean end; closing it earlier closes the connection.
func (p *Pool) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	trace := httptrace.ContextClientTrace(ctx)
	body := io.Reader(req.Body)
	if req.Body == nil {
		body = nil
	}
	retrySafe := (body == nil || body == http.NoBody) && idempotent(req)
	var kept *replayBody
	defer func() {
		if kept != nil {
			kept.release()
		}
	}()
	for try := 0; ; try++ {
		c, err := p.get(ctx, trace, try > 0, retrySafe)
		if err != nil {
			closeBody(req)
			return nil, err
		}
		if try == 0 && replayable(req, body) {
			// A small body that could not be sent again is read first (once
			// a connection is there: a failed dial leaves it unread, for the
			// caller's retry elsewhere), so that the stale-connection retry
			// below can send it again.
			kept, err = keep(body, req.ContentLength)
			if err != nil {
				p.put(c)
				closeBody(req)
				return nil, err
			}
			body = kept
		}
		resp, bodyRead, stale, err := c.exchange(ctx, req, body, trace)
		if err == nil {
			return resp, nil
		}
		if stale && try == 0 {
			// A reused connection failed before any byte of the response:
			// most likely the peer closed it while idle. Once more on a
			// fresh one, if the body can be sent again.
			switch {
			case body == nil || body == http.NoBody || bodyRead == 0:
				continue
			case kept != nil:
				kept.off = 0
				continue
			case req.GetBody != nil:
				if nb, gerr := req.GetBody(); gerr == nil {
					body = nb
					continue
				}
			}
		}
		closeBody(req)
		return nil, err
	}
}

// replayLimit is the largest body kept for a stale-connection retry.
const replayLimit = 16 << 10

// replayable reports a body that only a copy would let us send twice.
func replayable(req *http.Request, body io.Reader) bool {
	return body != nil && body != http.NoBody && req.GetBody == nil &&
		req.ContentLength > 0 && req.ContentLength <= replayLimit
}

// replayBody is a request body read whole into a pooled buffer.
type replayBody struct {
	buf  *[]byte
	data []byte
	off  int
}

func keep(body io.Reader, n int64) (*replayBody, error) {
	bp := chunkBufs.Get().(*[]byte)
	r := &replayBody{buf: bp, data: (*bp)[:n]}
	if _, err := io.ReadFull(body, r.data); err != nil {
		r.release()
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return nil, errShortBody
		}
		return nil, &bodyReadError{err}
	}
	return r, nil
}

func (r *replayBody) Read(p []byte) (int, error) {
	if r.off >= len(r.data) {
		return 0, io.EOF
	}
	n := copy(p, r.data[r.off:])
	r.off += n
	return n, nil
}

func (r *replayBody) release() {
	if r.buf != nil {
		chunkBufs.Put(r.buf)
		r.buf, r.data = nil, nil
	}
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// idempotent reports a request that RFC 9110 §9.2.2 lets a client send
// again on its own: an idempotent method, or one the client marked with an
// idempotency key (as net/http does).
func idempotent(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace,
		http.MethodPut, http.MethodDelete:
		return true
	}
	_, key := req.Header["Idempotency-Key"]
	_, xkey := req.Header["X-Idempotency-Key"]
	return key || xkey
}

// exchange runs one request on c. stale reports a reused connection that
// failed before any byte of the response, with the connection's fault, for
// a request that may be sent again: one whose write failed (the upstream
// never had all of it) or an idempotent one. A POST the upstream received
// whole and then died on is not sent twice.
func (c *conn) exchange(ctx context.Context, req *http.Request, body io.Reader, trace *httptrace.ClientTrace) (resp *http.Response, bodyRead int64, stale bool, err error) {
	p := c.pool
	c.watch(ctx)
	bodyRead, werr := c.writeRequest(req, body)
	if werr != nil && (isRequestFault(werr) || c.cancelled.Load()) {
		c.fail()
		return nil, bodyRead, false, c.cause(ctx, werr)
	}
	// After a failed write the upstream may still have answered (a 413
	// before the body was read, then a close): read what it sent.
	if p.cfg.ResponseHeaderTimeout > 0 && !c.headTimed {
		c.setReadDeadline(time.Now().Add(p.cfg.ResponseHeaderTimeout))
	}
	c.headTimed = false
	var h head
	r := &response{}
	n1xx := 0
	got := false // a byte of the response arrived (a 1xx counts)
	for {
		gotHead, rerr := c.readHead(p.cfg.MaxHeaderBytes)
		got = got || gotHead
		if rerr == nil {
			h, rerr = parseHead(c.head, r.vals[:])
		}
		if rerr != nil {
			stale = c.reused && !got && !c.cancelled.Load() && !isTimeout(rerr) &&
				(werr != nil || idempotent(req))
			c.fail()
			if werr != nil && !got {
				rerr = werr
			}
			if isTimeout(rerr) && !c.cancelled.Load() {
				rerr = timeoutError{}
			}
			return nil, bodyRead, stale, c.cause(ctx, rerr)
		}
		if h.status >= 200 || h.status == http.StatusSwitchingProtocols {
			break
		}
		if n1xx++; n1xx > max1xx {
			c.fail()
			return nil, bodyRead, false, errTooMany1xx
		}
		if trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(h.status, textproto.MIMEHeader(h.header)); err != nil {
				c.fail()
				return nil, bodyRead, false, err
			}
		}
		r = &response{} // the 1xx head keeps its values
	}
	if p.cfg.ResponseHeaderTimeout > 0 || c.probing {
		c.probing = false
		_ = c.nc.SetReadDeadline(time.Time{})
		if c.cancelled.Load() { // the watch fired around the reset: honour it
			c.fail()
			return nil, bodyRead, false, c.cause(ctx, context.Canceled)
		}
	}
	return c.respond(r, req, &h, werr == nil), bodyRead, false, nil
}

// cause is the error an exchange failed with: the context's when it ended.
func (c *conn) cause(ctx context.Context, err error) error {
	if c.cancelled.Load() {
		if e := ctx.Err(); e != nil {
			return e
		}
	}
	return err
}

// fail ends an exchange that broke: the connection is closed.
func (c *conn) fail() {
	c.unwatch()
	c.closeOwned()
	c.pool.freeSlot()
}

// response is the *http.Response, its body and the backing of its header
// values in one allocation.
type response struct {
	resp http.Response
	body body
	vals [8]string
}

var chunkedTE = []string{"chunked"}

// respond builds the response for head h and the body that frames it
// (RFC 9112 §6.3).
func (c *conn) respond(r *response, req *http.Request, h *head, wrote bool) *http.Response {
	r.resp = http.Response{
		Status:     h.statusText,
		StatusCode: h.status,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h.header,
		Trailer:    h.trailer,
		Request:    req,
		TLS:        c.tls,
		Body:       &r.body,
	}
	if h.http10 {
		r.resp.Proto, r.resp.ProtoMinor = "HTTP/1.0", 0
	}
	b := &r.body
	b.c, b.resp = c, &r.resp
	b.reusable = wrote && !h.http10 && !h.closeConn && !h.doubt && !req.Close
	switch {
	case h.status == http.StatusSwitchingProtocols:
		b.mode = modeUpgrade
		r.resp.ContentLength = -1
		c.unwatch() // the tunnel outlives the request's context
		return &r.resp
	case req.Method == http.MethodHead:
		r.resp.ContentLength = h.length
		b.mode = modeNone
	case h.status == http.StatusNoContent || h.status == http.StatusNotModified:
		b.mode = modeNone
	case h.chunked:
		b.mode = modeChunked
		r.resp.ContentLength = -1
		r.resp.TransferEncoding = chunkedTE
	case h.length >= 0:
		b.mode = modeLength
		b.left = h.length
		r.resp.ContentLength = h.length
	default:
		b.mode = modeEOF
		b.reusable = false
		r.resp.ContentLength = -1
	}
	r.resp.Close = !b.reusable
	if b.mode == modeNone || b.mode == modeLength && b.left == 0 {
		b.finish()
		r.resp.Body = http.NoBody
	}
	return &r.resp
}

type bodyMode uint8

const (
	modeNone bodyMode = iota
	modeLength
	modeChunked
	modeEOF
	modeUpgrade
)

const (
	bodyOpen   int32 = iota
	bodyDone         // read to its end; the connection went back or was closed
	bodyClosed       // closed early, or failed
)

// body is a response body on its connection. Read and Close may race (a
// caller closing a body another goroutine is reading): state decides, once,
// who ends the exchange, and a Read in progress keeps the buffers from
// being recycled under it.
type body struct {
	c        *conn
	resp     *http.Response
	mode     bodyMode
	left     int64 // modeLength: bytes left; modeChunked: left in this chunk
	reusable bool
	err      error // sticky, for the reading goroutine

	state   atomic.Int32
	reading atomic.Bool
}

func (b *body) Read(p []byte) (int, error) {
	b.reading.Store(true)
	defer b.reading.Store(false)
	switch b.state.Load() {
	case bodyDone:
		return 0, io.EOF
	case bodyClosed:
		if b.err != nil {
			return 0, b.err
		}
		return 0, errBodyClosed
	}
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	var (
		n   int
		err error
	)
	switch b.mode {
	case modeLength:
		if int64(len(p)) > b.left {
			p = p[:b.left]
		}
		n, err = b.c.br.Read(p)
		b.left -= int64(n)
		switch {
		case b.left == 0:
			err = io.EOF
		case err == io.EOF:
			err = io.ErrUnexpectedEOF
		}
	case modeChunked:
		n, err = b.readChunked(p)
	case modeEOF:
		n, err = b.c.br.Read(p)
	case modeUpgrade:
		return b.c.br.Read(p)
	}
	if err == io.EOF {
		b.finish()
		return n, io.EOF
	}
	if err != nil {
		b.err = b.c.cause(b.resp.Request.Context(), err)
		if b.state.CompareAndSwap(bodyOpen, bodyClosed) {
			b.c.fail()
		}
		return n, b.err
	}
	return n, nil
}

func (b *body) readChunked(p []byte) (int, error) {
	br := b.c.br
	if b.left == 0 {
		n, err := readChunkSize(br)
		if err != nil {
			return 0, err
		}
		if n == 0 {
			if err := b.c.readTrailers(&b.resp.Trailer, b.c.pool.cfg.MaxHeaderBytes); err != nil {
				return 0, err
			}
			return 0, io.EOF
		}
		b.left = n
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := br.Read(p)
	b.left -= int64(n)
	if err == io.EOF {
		return n, io.ErrUnexpectedEOF
	}
	if err == nil && b.left == 0 {
		err = expectCRLF(br)
	}
	return n, err
}

// finish ends an exchange whose body was read to its end: the connection
// goes back to the pool if nothing says otherwise.
func (b *body) finish() {
	if !b.state.CompareAndSwap(bodyOpen, bodyDone) {
		return
	}
	c := b.c
	if c.unwatch() && b.reusable && c.br.Buffered() == 0 {
		c.reused = false
		c.pool.put(c)
		return
	}
	c.closeOwned()
	c.pool.freeSlot()
}

var errBodyClosed = errors.New("read on a closed upstream response body")

// Close ends the body. Unless it was read to its end, the connection is
// closed: what is left of the response is never read as the next one.
func (b *body) Close() error {
	if !b.state.CompareAndSwap(bodyOpen, bodyClosed) {
		return nil
	}
	c := b.c
	c.unwatch()
	if b.reading.Load() {
		c.close() // the reader still holds the buffers
	} else {
		c.closeOwned()
	}
	c.pool.freeSlot()
	return nil
}

// Write sends bytes on an upgraded connection (101): the tunnel's way up.
func (b *body) Write(p []byte) (int, error) {
	if b.mode != modeUpgrade {
		return 0, errors.New("write on a response body")
	}
	return b.c.nc.Write(p)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

var (
	_ http.RoundTripper  = (*Pool)(nil)
	_ io.ReadWriteCloser = (*body)(nil)
)
