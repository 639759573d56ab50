package filter

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
)

// Streaming bodies.
//
// A filter that must see a whole body before the request phase declares
// Needs.RequestBody/ResponseBody, and its route buffers the body first. A
// filter that looks at a body, or edits it as it passes, streams it
// instead: it declares Needs.StreamRequestBody/StreamResponseBody and
// implements RequestBodyFilter/ResponseBodyFilter. The body then flows
// through the chain chunk by chunk as Envoy's filter chain passes data
// frames, and nothing is buffered that no filter asked to buffer:
//
//   - each call gets what the filter holds so far (the chunk that arrived,
//     after any it buffered) and whether the body ends with it;
//   - BodyContinue forwards what the filter holds (edited or not) to the
//     next filter, and in the end to the upstream or the client;
//   - BodyBuffer keeps it: the filter is called again with the next chunk
//     appended, and at the end of the stream with the whole body
//     (Envoy's StopIterationAndBuffer), up to Needs.MaxBody;
//   - a filter that must hold the stream (Envoy's pause) blocks in the call
//     until it resumes, within a timeout of its own;
//   - a non-nil Response ends the exchange with it.
//
// A request or response without a body never reaches these calls.

// BodyAction is what a streaming body filter does with what it holds.
type BodyAction uint8

const (
	// BodyContinue forwards what the filter holds.
	BodyContinue BodyAction = iota
	// BodyBuffer keeps it until more arrives; at the end of the stream it
	// means BodyContinue.
	BodyBuffer
)

// Body is one direction's body as a streaming filter sees it in one call.
type Body struct {
	// Buf is what the filter holds: the bytes it buffered so far and the
	// chunk that just arrived. The filter may edit it or replace it; what
	// it holds after the call is what it forwards or keeps.
	Buf []byte
	// End is set when no more of the body follows Buf.
	End bool
}

// RequestBodyFilter streams the request body, after the request phase of
// the whole chain, in declared order.
type RequestBodyFilter interface {
	OnRequestBody(x *Exchange, b *Body) (BodyAction, *Response)
}

// ResponseBodyFilter streams the response body, after the response phase
// of the whole chain, in reverse order.
type ResponseBodyFilter interface {
	OnResponseBody(x *Exchange, b *Body) (BodyAction, *Response)
}

// bodyFn is one stage: a filter's body call.
type bodyFn func(x *Exchange, b *Body) (BodyAction, *Response)

// ErrLocalResponse is what a BodyStream's Read returns once a filter ended
// the exchange with a local response (BodyStream.Local).
var ErrLocalResponse = errors.New("a body filter answered the exchange itself")

// errLengthChanged ends a stream whose length a filter changed after its
// declared Content-Length went out.
var errLengthChanged = errors.New("a body filter changed the length of a body whose Content-Length was already sent")

// chunkSize is how much of the source one read takes.
const chunkSize = 32 << 10

// BodyStream runs one body through a chain's streaming filters. It is an
// io.Reader of what the last filter forwards. Prime runs it until there is
// something to forward or the body ended, before anything is sent on, so
// that a filter buffering the whole body can still answer locally or
// change its length.
type BodyStream struct {
	x      *Exchange
	src    io.Reader
	stages []stage
	limit  int64
	// response: a body too large to buffer fails the exchange (502) rather
	// than refusing the request (413).
	response bool

	declared int64 // the Content-Length the body came with, -1 if none
	read     int64 // bytes taken from src
	sent     int64 // bytes forwarded
	rbuf     []byte
	out      []byte // forwarded, not yet read
	ended    bool   // the last stage saw End
	edited   bool   // a filter changed the body's length
	primed   bool   // Prime returned: the length went out with the headers
	chunked  bool   // ... or not: the body goes on without a declared length
	err      error
	// Local is the response a filter ended the exchange with, if any, and
	// LocalBy that filter's index in the chain.
	Local   *Response
	LocalBy int
}

type stage struct {
	idx  int // the filter's index in the chain
	fn   bodyFn
	buf  []byte
	body Body
}

// Ended reports whether the whole body went through the filters.
func (bs *BodyStream) Ended() bool { return bs.ended }

// Edited reports whether a filter changed the body's length.
func (bs *BodyStream) Edited() bool { return bs.edited }

// Prime runs chunks through the filters until the last one forwards
// something, the body ends, or a filter answers (Local). It returns the
// source's error, if reading failed.
func (bs *BodyStream) Prime() error {
	for len(bs.out) == 0 && bs.err == nil {
		bs.step()
	}
	bs.primed = true
	if bs.err == io.EOF && len(bs.out) > 0 {
		return nil
	}
	if bs.err == io.EOF || errors.Is(bs.err, ErrLocalResponse) {
		return nil
	}
	return bs.err
}

// Rest returns everything still to forward when the body ended in Prime.
func (bs *BodyStream) Rest() []byte { return bs.out }

// Read returns what the filters forward.
func (bs *BodyStream) Read(p []byte) (int, error) {
	for len(bs.out) == 0 {
		if bs.err != nil {
			return 0, bs.err
		}
		bs.step()
	}
	n := copy(p, bs.out)
	bs.out = bs.out[n:]
	return n, nil
}

// step reads one chunk and runs it through the stages.
func (bs *BodyStream) step() {
	if bs.ended {
		bs.err = io.EOF
		if bs.primed && !bs.chunked && bs.edited && bs.declared >= 0 && bs.sent != bs.declared {
			bs.err = errLengthChanged
		}
		return
	}
	if bs.rbuf == nil {
		bs.rbuf = make([]byte, readSize(bs.declared))
	}
	n, err := bs.src.Read(bs.rbuf)
	bs.read += int64(n)
	end := err == io.EOF || (bs.declared >= 0 && bs.read >= bs.declared)
	if err != nil && err != io.EOF {
		bs.err = err
		return
	}
	if n == 0 && !end {
		return
	}
	bs.feed(bs.rbuf[:n], end)
}

// readSize is the read buffer of a body of declared length (-1: unknown):
// chunkSize, or the whole body when it is smaller. A typical 1 KiB
// response then costs a 1 KiB buffer, not a zeroed 32 KiB one per
// exchange (which, on a route with a streaming filter such as a Wasm
// guest exporting body callbacks, showed as ~8 µs of allocation and GC
// per request under load).
func readSize(declared int64) int {
	if declared >= 0 && declared < chunkSize {
		return max(int(declared), 1)
	}
	return chunkSize
}

// feed runs data through the stages in order.
func (bs *BodyStream) feed(data []byte, end bool) {
	for i := range bs.stages {
		st := &bs.stages[i]
		held := len(st.buf) > 0
		st.buf = append(st.buf, data...)
		if held && bs.limit > 0 && int64(len(st.buf)) > bs.limit {
			bs.Local, bs.LocalBy = bs.tooLarge(), st.idx // what the filter buffered, and more
			bs.err = ErrLocalResponse
			return
		}
		before := len(st.buf)
		b := &st.body // not a new Body per chunk: it escapes through fn
		b.Buf, b.End = st.buf, end
		act, local := st.fn(bs.x, b)
		st.buf, b.Buf = b.Buf, nil
		if len(st.buf) != before {
			bs.edited = true
		}
		if local != nil {
			bs.Local, bs.LocalBy = local, st.idx
			bs.err = ErrLocalResponse
			return
		}
		if act == BodyBuffer && !end {
			if bs.limit > 0 && int64(len(st.buf)) > bs.limit {
				bs.Local, bs.LocalBy = bs.tooLarge(), st.idx
				bs.err = ErrLocalResponse
			}
			return
		}
		// The next stage copies data before this one is fed again, and the
		// reader drains the last stage's before the next chunk: the buffer
		// is reused.
		data = st.buf
		st.buf = st.buf[:0]
	}
	bs.out = data
	bs.sent += int64(len(data))
	bs.ended = end
}

func (bs *BodyStream) tooLarge() *Response {
	limit := strconv.FormatInt(bs.limit, 10)
	if bs.response {
		return Error(http.StatusBadGateway, "upstream response body exceeds the "+limit+" bytes a filter may buffer")
	}
	return Error(http.StatusRequestEntityTooLarge, "request body exceeds the "+limit+" bytes a filter may buffer")
}

// StreamsRequestBody reports whether the first ran filters include one
// that streams the request body.
func (c *Chain) StreamsRequestBody(ran int) bool { return c.firstStream(c.reqBody, ran) >= 0 }

// StreamsResponseBody reports whether the first ran filters include one
// that streams the response body.
func (c *Chain) StreamsResponseBody(ran int) bool { return c.firstStream(c.respBody, ran) >= 0 }

func (c *Chain) firstStream(fns []bodyFn, ran int) int {
	for i := 0; i < ran && i < len(fns); i++ {
		if fns[i] != nil {
			return i
		}
	}
	return -1
}

// RequestBodyStream returns the request body as the first ran filters
// forward it, reading src (whose declared length is declared, -1 if
// unknown). Call it only when StreamsRequestBody(ran).
func (c *Chain) RequestBodyStream(x *Exchange, src io.Reader, declared int64, ran int) *BodyStream {
	bs := &BodyStream{x: x, src: src, declared: declared, limit: c.needs.MaxBody}
	for i := 0; i < ran && i < len(c.reqBody); i++ {
		if fn := c.reqBody[i]; fn != nil {
			bs.stages = append(bs.stages, stage{idx: i, fn: fn})
		}
	}
	return bs
}

// ResponseBodyStream returns the response body as the first ran filters
// forward it, in reverse order. Call it only when StreamsResponseBody(ran).
func (c *Chain) ResponseBodyStream(x *Exchange, src io.Reader, declared int64, ran int) *BodyStream {
	bs := &BodyStream{x: x, src: src, declared: declared, limit: c.needs.MaxBody, response: true}
	for i := min(ran, len(c.respBody)) - 1; i >= 0; i-- {
		if fn := c.respBody[i]; fn != nil {
			bs.stages = append(bs.stages, stage{idx: i, fn: fn})
		}
	}
	return bs
}

// StreamRequest is the gateway's use of a request BodyStream: it primes
// the stream over r's body (or the buffered x.RequestBody) and leaves the
// request ready to forward. A body that ended in Prime becomes
// x.RequestBody, sent with its exact length; a body still streaming is
// r.Body, chunked if a filter changed its length before it went out. A
// non-nil Response (a filter's answer, or 400 for a body that could not be
// read) ends the exchange; bs then still says, after the upstream
// exchange, whether a filter answered while the body streamed (bs.Local).
func (c *Chain) StreamRequest(x *Exchange, ran int) (bs *BodyStream, resp *Response) {
	r := x.Request
	var src io.Reader = r.Body
	declared := r.ContentLength
	if x.RequestBody != nil {
		src, declared = bytes.NewReader(x.RequestBody), int64(len(x.RequestBody))
	}
	bs = c.RequestBodyStream(x, src, declared, ran)
	if err := bs.Prime(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return bs, Error(http.StatusRequestEntityTooLarge, "request body exceeds "+strconv.FormatInt(mbe.Limit, 10)+" bytes")
		}
		return bs, Error(http.StatusBadRequest, "request body could not be read")
	}
	if bs.Local != nil {
		return bs, bs.Local
	}
	if bs.ended {
		body := bs.out
		if body == nil {
			body = []byte{}
		}
		x.RequestBody = body
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		return bs, nil
	}
	if bs.edited {
		r.ContentLength = -1
		r.Header.Del("Content-Length")
		bs.chunked = true
	}
	r.Body = io.NopCloser(bs)
	return bs, nil
}

// StreamResponse primes the response body of out through the first ran
// filters. The returned reader replaces the upstream body for the client
// (nil when the body ended in Prime: out.Body then holds it whole). A
// non-nil Response replaces out.
func (c *Chain) StreamResponse(x *Exchange, out *Response, src io.Reader, declared int64, ran int) (io.Reader, *Response) {
	bs := c.ResponseBodyStream(x, src, declared, ran)
	if err := bs.Prime(); err != nil {
		return nil, Error(http.StatusBadGateway, "upstream response body could not be read")
	}
	if bs.Local != nil {
		return nil, bs.Local
	}
	if bs.ended {
		out.Body = bs.out
		if out.Body == nil {
			out.Body = []byte{}
		}
		return nil, nil
	}
	if bs.edited {
		out.Header.Del("Content-Length")
		bs.chunked = true
	}
	return bs, nil
}
