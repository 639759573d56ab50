// Package proxy forwards one exchange to an upstream target and writes the
// answer back: the outbound request (URL, Host, body), hop-by-hop and
// forwarding headers, 1xx responses, streaming with per-progress deadlines,
// trailers, websocket upgrades, and the mapping of failures to client-safe
// JSON errors.
//
// The gateway drives it in two calls around the response phase of the chain:
//
//	resp, perr := p.RoundTrip(w, x, up, trustedPeer)
//	if perr != nil { x.Response = perr.Response() } // unless perr.Kind == KindClientGone
//	else { x.Response = &filter.Response{Status: resp.StatusCode, Header: resp.Header} }
//	chain.Response(x, ran)
//	if err := p.WriteResponse(w, r, x, resp); err != nil && err.Aborted { panic(http.ErrAbortHandler) }
//
// It is written out rather than built on httputil.ReverseProxy so that every
// step (what is copied, what allocates, what maps to which status) is ours.
package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/upstream"
)

// Options is how a route forwards. It is fixed at config load.
type Options struct {
	// PreserveHost sends the client's Host instead of the target's.
	PreserveHost bool
	// Websocket lets "Upgrade: websocket" through (HTTP/1.1 clients only).
	// Any other upgrade, h2c included, is always stripped.
	Websocket bool
	// Timeout bounds the whole exchange with the upstream, body and
	// retries included; 0 leaves the upstream's timeouts.request.
	Timeout time.Duration
	// ResponseHeaderTimeout bounds each attempt until the response headers
	// arrive; 0 leaves the upstream's (its transport's) in charge.
	ResponseHeaderTimeout time.Duration
	// Retry replaces the upstream's retry policy for this route; nil keeps
	// the upstream's.
	Retry *upstream.RetryPolicy
	// ReadTimeout and WriteTimeout are per-progress deadlines on the client
	// connection: extended as request-body bytes are read and response bytes
	// written, so long streams live while a stalled peer is cut off. 0 leaves
	// the server's deadlines alone.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// MinBodyRate, when positive, is the lowest average rate in bytes per
	// second at which a streamed request body may arrive once MinBodyGrace
	// has passed since its first read; a slower client hears 408.
	MinBodyRate  int64
	MinBodyGrace time.Duration
	// MinResponseRate, when positive, is the lowest average rate in bytes
	// per second at which the client may take a streamed response body,
	// counting only the time spent waiting on it, once MinResponseGrace of
	// that waiting is used up; a slower client's response is cut off.
	MinResponseRate  int64
	MinResponseGrace time.Duration
	// Observer, if set, is told of every upstream attempt (observe.go).
	Observer filter.AttemptObserver
}

// Proxy forwards a route's exchanges. It is immutable and safe for
// concurrent use.
type Proxy struct {
	o Options
}

// New returns a proxy for one route.
func New(o Options) *Proxy { return &Proxy{o: o} }

// maxResponseFields bounds the header field lines of an upstream response
// (Envoy's default for upstreams too): the transport bounds only their
// bytes, and each line costs every response filter that walks them.
const maxResponseFields = 100

// tooManyFields reports a response header with more than maxResponseFields
// lines; a repeated name counts once per line.
func tooManyFields(h http.Header) bool {
	if len(h) > maxResponseFields {
		return true
	}
	n := 0
	for _, vv := range h {
		n += len(vv)
	}
	return n > maxResponseFields
}

// max1xx bounds the informational responses relayed per exchange: once we
// relay them the transport no longer counts their headers against its limit.
const max1xx = 8

// trip is the per-exchange state from RoundTrip to WriteResponse, in one
// allocation: the outbound URL, the client trace for 1xx responses, the
// request-body wrapper, and the values of the headers we set. It replaces
// resp.Body, so the gateway carries it without knowing.
type trip struct {
	url   url.URL
	trace httptrace.ClientTrace
	body  reqBody
	buf   bytes.Reader // the chain's buffered request body, if any

	upstream io.ReadCloser // the real response body
	filtered io.Reader     // what the chain's body filters forward of it (filtered.go), or nil
	cancel   context.CancelFunc
	upgrade  string // the protocol the upstream switched to on 101

	vals  [10]string // backing for header values set by us
	nvals int

	up            *upstream.Upstream
	call          upstream.Call
	target        *upstream.Target // of the attempt whose response is returned
	attemptCancel context.CancelCauseFunc
	waiting       atomic.Bool // counted as waiting for a connection (max_pending)
	released      bool

	attempt filter.Attempt // what observers see of this attempt

	mu    sync.Mutex // guards the fields below against the transport's goroutine
	w     http.ResponseWriter
	done  bool // RoundTrip returned: no more 1xx writes
	n1xx  int
	allow bool // the client speaks HTTP/1.1 or later, so may get 1xx
}

// val returns a one-element header value backed by t.vals. Its capacity is
// one, so a later Add copies instead of writing into a neighbour.
func (t *trip) val(v string) []string {
	if t.nvals == len(t.vals) {
		return []string{v}
	}
	i := t.nvals
	t.nvals++
	t.vals[i] = v
	return t.vals[i : i+1 : i+1]
}

// Read and Close make trip the response body the gateway sees.
func (t *trip) Read(p []byte) (int, error) {
	if t.filtered != nil {
		return t.filtered.Read(p)
	}
	return t.upstream.Read(p)
}

// Close closes the upstream body, ends the route timeout, and detaches the
// client's request body from a transport that may still hold it.
func (t *trip) Close() error {
	err := t.upstream.Close()
	t.release()
	return err
}

// release ends the exchange's hold on everything it took: the client's
// body, the route timeout, the target's and the upstream's in-flight
// counts. It runs once, whichever path gets there first.
func (t *trip) release() {
	if t.released {
		return
	}
	t.released = true
	t.body.close()
	if t.cancel != nil {
		t.cancel()
	}
	if t.attemptCancel != nil {
		t.attemptCancel(nil)
	}
	if t.target != nil {
		t.target.End()
	}
	t.up.End(&t.call)
}

// RoundTrip sends x.Request to a target of up and returns its response,
// headers cleaned of hop-by-hop fields. x.Request.URL.Path/RawPath must be
// final; its header map is edited in place into what the upstream receives
// (Exchange.Request is "the request as the upstream will receive it").
// trustedPeer says the TCP peer is a trusted proxy: its X-Forwarded-*/
// Forwarded headers are extended rather than replaced. w receives relayed
// 1xx responses while RoundTrip runs.
//
// The upstream may refuse the exchange (circuit breaker, concurrency
// limits): a KindUnavailable error, 503 with Retry-After. Failed attempts
// are retried inside RoundTrip as the route's (or else the upstream's)
// retry policy allows; see retry.go for when a body can be sent again.
//
// On success the caller owns resp and must pass it to WriteResponse (or
// close resp.Body). On failure the *Error says what to tell the client.
// RoundTrip runs once per exchange.
func (p *Proxy) RoundTrip(w http.ResponseWriter, x *filter.Exchange, up *upstream.Upstream, trustedPeer bool) (*http.Response, *Error) {
	in := x.Request
	// An HTTP/2 stream the client reset while the chain ran (rapid reset)
	// has a cancelled context: send nothing upstream for it. The transport
	// checks too, but only after a target is picked and counted.
	if err := in.Context().Err(); err != nil {
		return nil, &Error{Kind: KindClientGone, Status: StatusClientClosed, Err: err}
	}
	call, rej := up.Begin()
	if rej != nil {
		return nil, &Error{Kind: KindUnavailable, Status: http.StatusServiceUnavailable, Err: errRefused, detail: rej.Reason, RetryAfter: rej.RetryAfter}
	}
	t := &trip{w: w, allow: in.ProtoAtLeast(1, 1), up: up, call: call}

	h := in.Header
	if h == nil {
		h = make(http.Header)
	}
	// The names in the client's Connection header were removed with its
	// request as received (StripHopByHop), before the chain: parsing it here
	// would let a client name a field a filter has set since. A Connection
	// a filter or a sub-request wrote is dropped with the fixed set.
	upgrade := upgradeToken(h)
	keepTE := hasToken(h["Te"], "trailers")
	deleteHopFields(h)
	if upgrade != "" && p.o.Websocket && in.ProtoMajor == 1 && equalFold(upgrade, "websocket") {
		h["Connection"] = t.val("Upgrade")
		h["Upgrade"] = t.val(upgrade)
	} else {
		upgrade = ""
	}
	if keepTE {
		h["Te"] = t.val("trailers") // gRPC needs to know trailers will reach it
	}
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = t.val("") // else Go sends its own
	}
	t.setForwarding(h, in, x.ClientIP, trustedPeer)

	ctx := in.Context()
	timeout := p.o.Timeout
	if timeout == 0 {
		timeout = up.RequestTimeout()
	}
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	if gt, ok := h["Grpc-Timeout"]; ok && isGRPC(h) {
		// The client's deadline, counted from when the gateway got the
		// call, bounds it too; the upstream is told what is left.
		if d, ok := parseGRPCTimeout(gt); ok {
			start := x.Start
			if start.IsZero() {
				start = time.Now()
			}
			if gd := start.Add(d); deadline.IsZero() || gd.Before(deadline) {
				deadline = gd
			}
			h["Grpc-Timeout"] = []string{formatGRPCTimeout(time.Until(deadline))}
		}
	}
	if !deadline.IsZero() {
		ctx, t.cancel = context.WithDeadline(ctx, deadline)
	}
	t.trace.Got1xxResponse = t.got1xx
	if up.TracksPending() {
		t.trace.GetConn = t.getConn
		t.trace.GotConn = t.gotConn
	}
	ctx = httptrace.WithClientTrace(ctx, &t.trace)

	tmpl := http.Request{
		Method:     in.Method,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Trailer:    in.Trailer,
	}
	policy := p.o.Retry
	if policy == nil {
		policy = up.Retry()
	}
	if upgrade != "" || (policy != nil && policy.Attempts < 2) {
		policy = nil // an upgraded connection is not a request to repeat
	}
	rp, perr := t.setBody(&tmpl, x, w, &p.o, policy)
	if perr != nil {
		t.release()
		return nil, perr
	}

	resp, perr := p.attempts(ctx, x, up, t, &tmpl, policy, rp)
	t.mu.Lock()
	t.done = true
	t.w = nil
	t.mu.Unlock()
	if perr != nil {
		t.release()
		return nil, perr
	}

	if tooManyFields(resp.Header) {
		resp.Body.Close()
		t.release()
		return nil, &Error{Kind: KindBadResponse, Status: http.StatusBadGateway, Err: errTooManyFields}
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		got := upgradeToken(resp.Header)
		_, rw := resp.Body.(io.ReadWriteCloser)
		if upgrade == "" || !equalFold(got, upgrade) || !rw {
			resp.Body.Close()
			t.release()
			return nil, &Error{Kind: KindBadResponse, Status: http.StatusBadGateway, Err: errBadSwitch}
		}
		t.upgrade = got
	}
	removeHopByHop(resp.Header)
	t.upstream = resp.Body
	resp.Body = t
	return resp, nil
}

// joinPath puts the target's base path in front of the request's canonical
// path. When the request path carries escapes its RawPath is joined too, so
// "/a%20b/c%3Fd" reaches the upstream byte for byte.
func joinPath(base, req *url.URL) (path, rawPath string) {
	if base.Path == "" {
		return req.Path, req.RawPath
	}
	if req.RawPath == "" {
		return base.Path + req.Path, ""
	}
	return base.Path + req.Path, base.EscapedPath() + req.EscapedPath()
}

// setBody gives the outbound request its body: the chain's buffered body if
// it has one, else the client's stream, wrapped so the transport can neither
// close it nor read it after the exchange, and so that progress extends the
// read deadline. No body is nil (http.NoBody included): the transport may
// then retry an idempotent request on a stale keep-alive connection.
//
// It also decides whether the body can be sent again (replay.ok): when there
// is none, when the chain buffered it, or when a retry after sending is
// possible (policy, method) and its Content-Length is at most
// retries.buffer_body, in which case it is read here, up front. A chunked or
// larger body streams, and is retried only when no byte of it was read
// (a connect failure).
func (t *trip) setBody(out *http.Request, x *filter.Exchange, w http.ResponseWriter, o *Options, policy *upstream.RetryPolicy) (replay, *Error) {
	in := x.Request
	switch {
	case x.RequestBody != nil:
		if len(x.RequestBody) == 0 {
			return replay{ok: true}, nil
		}
		t.buf.Reset(x.RequestBody)
		t.body.src = &t.buf
		out.ContentLength = int64(len(x.RequestBody))
		body := x.RequestBody
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		t.body.want = out.ContentLength
		out.Body = &t.body
		return replay{ok: true, data: body}, nil
	case in.Body == nil || in.Body == http.NoBody:
		return replay{ok: true}, nil
	case in.ContentLength == 0:
		// An h2 request that declares no body but has not ended its stream:
		// it must end without DATA before an empty request goes upstream as
		// complete (RFC 9113 §8.1.1; net/http resets the stream on DATA, but
		// only after the handler has run).
		if err := expectEOF(in.Body); err != nil {
			return replay{}, clientBodyError(err)
		}
		return replay{ok: true}, nil
	}
	t.body.src = in.Body
	t.body.rc = *http.NewResponseController(w)
	t.body.timeout = o.ReadTimeout
	if o.MinBodyRate > 0 && !isGRPC(in.Header) {
		t.body.minRate, t.body.grace = o.MinBodyRate, o.MinBodyGrace
	}
	t.body.want = in.ContentLength
	t.body.endAtWant = in.ProtoMajor >= 2 && in.ContentLength > 0
	out.ContentLength = in.ContentLength
	if policy != nil && in.ContentLength > 0 && in.ContentLength <= policy.BufferBody &&
		(policy.NonIdempotent || upstream.Idempotent(in.Method)) {
		data := make([]byte, in.ContentLength)
		_, err := io.ReadFull(&t.body, data)
		if err == nil {
			// The declared length arrived; the body must also end there
			// (an h2 stream may carry more DATA than its content-length,
			// and is reset for it): a body that fails later must not be
			// sent as complete from this buffer.
			err = expectEOF(&t.body)
		}
		if err != nil {
			if berr := t.body.readErr(); berr != nil {
				err = berr
			}
			return replay{}, clientBodyError(err)
		}
		t.buf.Reset(data)
		out.Body = io.NopCloser(&t.buf)
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		return replay{ok: true, data: data}, nil
	}
	out.Body = &t.body
	return replay{}, nil
}

// got1xx relays an informational response (103 Early Hints and the like)
// while RoundTrip waits for the final one. 100 Continue is not relayed: the
// server sends its own when the body is first read.
func (t *trip) got1xx(code int, mh textproto.MIMEHeader) error {
	if code == http.StatusContinue {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done || !t.allow {
		return nil
	}
	if t.n1xx++; t.n1xx > max1xx {
		return errTooMany1xx
	}
	h := http.Header(mh)
	removeHopByHop(h)
	// The server writes the whole header map with a 1xx; the final
	// response's headers are not there yet, but anything set before (a
	// request ID) is kept and restored afterwards.
	dst := t.w.Header()
	saved := make(map[string][]string, len(h))
	for k, vv := range h {
		saved[k] = dst[k]
		dst[k] = vv
	}
	t.w.WriteHeader(code)
	for k, vv := range saved {
		if vv == nil {
			delete(dst, k)
		} else {
			dst[k] = vv
		}
	}
	return nil
}

// reqBody is the client's request body as the transport reads it. It never
// closes the client's body (the server owns it), refuses reads once the
// exchange is over, records why a read failed, and knows whether the body
// was read to its end (else the client connection cannot be reused).
type reqBody struct {
	src      io.Reader
	rc       http.ResponseController
	timeout  time.Duration
	deadline time.Time // only the reading goroutine touches it
	// noDeadline: the writer cannot set read deadlines.
	noDeadline bool
	// endAtWant: the body's length is declared (want) but its end is not
	// framed by it (HTTP/2: DATA frames and END_STREAM). The last declared
	// bytes are held back until the stream is seen to end there, so that a
	// stream carrying more DATA than declared (reset by net/http for it)
	// never leaves a complete request upstream.
	endAtWant bool
	want      int64 // Content-Length, -1 if unknown

	// The minimum average rate (bytes/s, 0: none) after grace, over the
	// time spent waiting for the client (waited), not the time the
	// upstream took to ask for more.
	minRate int64
	grace   time.Duration
	waited  time.Duration

	n     atomic.Int64
	state atomic.Uint32
	mu    sync.Mutex
	err   error
}

const (
	bodyEOF uint32 = 1 << iota
	bodyClosed
)

func (b *reqBody) Read(p []byte) (int, error) {
	if b.state.Load()&bodyClosed != 0 {
		return 0, errBodyClosed
	}
	var now time.Time
	if b.timeout > 0 || b.minRate > 0 {
		now = time.Now()
		if err := b.extend(now); err != nil {
			b.fail(err)
			return 0, err
		}
	}
	n, err := b.src.Read(p)
	if b.endAtWant && err == nil && n > 0 && b.n.Load()+int64(n) >= b.want {
		if err = expectEOF(b.src); err == nil {
			err = io.EOF
		} else {
			n = 0 // the declared length is not where the body ends: send none of its end
		}
	}
	if b.minRate > 0 {
		b.waited += time.Since(now)
	}
	b.n.Add(int64(n))
	switch {
	case err == io.EOF:
		b.state.Or(bodyEOF)
	case err != nil:
		b.fail(err)
	}
	return n, err
}

// extend moves the connection's read deadline on as the body progresses:
// to a read timeout from now, but never past the moment the client's
// average rate would fall under minRate should no further byte come. It
// fails once the client has used up that allowance. The deadline moves at
// most every quarter of its slack, so a stalled client is cut off within
// [3/4, 1] of the timeout (or of the grace) at a fraction of the calls.
func (b *reqBody) extend(now time.Time) error {
	target, slack := time.Time{}, b.timeout/4
	if b.timeout > 0 {
		target = now.Add(b.timeout)
	}
	if b.minRate > 0 {
		earned := time.Duration(float64(b.n.Load()) / float64(b.minRate) * float64(time.Second))
		left := b.grace + earned - b.waited
		if left <= 0 {
			return &slowBodyError{rate: b.minRate}
		}
		if due := now.Add(left); target.IsZero() || due.Before(target) {
			target = due
		}
		if slack == 0 || b.grace/4 < slack {
			slack = b.grace / 4
		}
	}
	if b.noDeadline || target.Sub(b.deadline) < slack {
		return nil
	}
	b.deadline = target
	if b.rc.SetReadDeadline(target) != nil {
		b.noDeadline = true // not supported by this writer; the rate is still checked per read
	}
	return nil
}

// fail records the first reason the body could not be read.
func (b *reqBody) fail(err error) {
	b.mu.Lock()
	if b.err == nil {
		b.err = err
	}
	b.mu.Unlock()
}

// slowBodyError is a body that arrived under the minimum rate: a timeout,
// as the read deadline would have reported it a moment later.
type slowBodyError struct{ rate int64 }

func (e *slowBodyError) Error() string {
	return "request body arrived slower than " + strconv.FormatInt(e.rate, 10) + " bytes/s"
}

func (e *slowBodyError) Is(target error) bool { return target == os.ErrDeadlineExceeded }
func (e *slowBodyError) Timeout() bool        { return true }

// Close is a no-op for the transport: the client's body is not its to close.
func (b *reqBody) Close() error { return nil }

// close ends the body for good: the transport may hold it past the exchange.
func (b *reqBody) close() { b.state.Or(bodyClosed) }

func (b *reqBody) readErr() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// complete reports whether the client's body was read to its end (or there
// was none), so the client connection is in a known state.
func (b *reqBody) complete() bool {
	if b.src == nil || b.state.Load()&bodyEOF != 0 {
		return true
	}
	return b.want >= 0 && b.n.Load() >= b.want
}

var (
	errBodyClosed    = errorString("request body read after the exchange ended")
	errTooMany1xx    = errorString("too many 1xx responses from upstream")
	errTooManyFields = errorString("upstream response has more than 100 header fields")
	errBadSwitch     = errorString("upstream switched protocols without an allowed upgrade")
	errNoHijack      = errorString("client connection cannot be hijacked for an upgrade")
)

// errorString is a constant-friendly error type for sentinel causes.
type errorString string

func (e errorString) Error() string { return string(e) }

// compile-time contracts
var (
	_ io.ReadCloser = (*trip)(nil)
	_ io.ReadCloser = (*reqBody)(nil)
)

// isGRPC reports a gRPC request (application/grpc, +proto, -web...), whose
// streaming calls may rightly send nothing for minutes: no minimum body
// rate applies to them.
func isGRPC(h http.Header) bool {
	ct := h.Get("Content-Type")
	return len(ct) >= 16 && strings.EqualFold(ct[:16], "application/grpc")
}

// expectEOF reads past a body's declared length: nil only when it ends
// there.
func expectEOF(r io.Reader) error {
	var b [1]byte
	n, err := r.Read(b[:])
	for n == 0 && err == nil {
		n, err = r.Read(b[:])
	}
	switch {
	case n > 0:
		return errors.New("request body longer than its Content-Length")
	case err == io.EOF:
		return nil
	}
	return err
}
