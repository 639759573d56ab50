package proxy

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wasmgate/wasmgate/core/filter"
)

// bufPool holds the 32 KiB buffers that bodies are copied through.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// closeValue is the shared value of "Connection: close"; nothing writes to it.
var closeValue = []string{"close"}

// WriteResponse writes x.Response to the client: its status and headers,
// then x.Response.Body when the chain buffered or replaced it, else resp's
// body streamed through, then trailers. A 101 from the upstream, left as is
// by the chain, becomes a websocket tunnel that lasts until both sides close.
// resp is nil for local responses. r is the request as the client sent it.
//
// WriteResponse closes resp.Body. A non-nil *Error is for the log; if its
// Aborted is set the response was cut short after it started, and the
// caller must panic(http.ErrAbortHandler) so the client sees it broken.
func (p *Proxy) WriteResponse(w http.ResponseWriter, r *http.Request, x *filter.Exchange, resp *http.Response) *Error {
	xr := x.Response
	var t *trip
	if resp != nil {
		if xr == nil {
			xr = &filter.Response{Status: resp.StatusCode, Header: resp.Header}
		}
		t, _ = resp.Body.(*trip)
		if xr.Status == http.StatusSwitchingProtocols && xr.Body == nil && t != nil && t.upgrade != "" {
			x.Status = xr.Status // the tunnel's bytes are not counted
			return p.switchProtocols(w, xr, t)
		}
		defer resp.Body.Close()
	}
	if xr == nil || xr.Status < 200 || xr.Status > 999 {
		// A 1xx final status cannot be written (101 only with an upgrade).
		xr = filter.Error(http.StatusBadGateway, "bad upstream response")
	}
	if xr.Local && isGRPC(r.Header) && xr.Header["Grpc-Status"] == nil {
		xr = GRPCLocal(xr, grpcReplyType(r.Header.Get("Content-Type"))) // grpclocal.go
	}
	if gs := xr.Header["Grpc-Status"]; len(gs) > 0 {
		x.GRPCStatus = gs[0] // trailers-only; a status in the trailers comes below
	}
	x.Status = xr.Status
	if t != nil {
		x.BytesIn = t.body.n.Load()
	} else {
		x.BytesIn = int64(len(x.RequestBody))
	}

	h := w.Header()
	copyHeader(h, xr.Header)
	stream := xr.Body == nil && resp != nil
	announced := 0
	if stream {
		if n := len(resp.Trailer); n > 0 {
			announced = n
			h["Trailer"] = []string{trailerKeys(resp.Trailer)}
		}
	} else {
		delete(h, "Transfer-Encoding")
		delete(h, "Trailer")
		if bodyAllowed(xr.Status) && (len(xr.Body) > 0 || h["Grpc-Status"] == nil) {
			h["Content-Length"] = []string{strconv.Itoa(len(xr.Body))}
		}
	}
	// An HTTP/1.x client whose body we did not read to its end has bytes in
	// flight that would be parsed as its next request: end the connection.
	if r.ProtoMajor == 1 && t != nil && !t.body.complete() {
		h["Connection"] = closeValue
	}

	rc := http.NewResponseController(w)
	dl := deadline{timeout: p.o.WriteTimeout}
	dl.extend(rc, time.Now())
	w.WriteHeader(xr.Status)

	if !stream {
		if len(xr.Body) > 0 {
			n, err := w.Write(xr.Body)
			x.BytesOut = int64(n)
			if err != nil {
				return &Error{Kind: KindClientGone, Status: StatusClientClosed, Err: err}
			}
		}
		return nil
	}

	flush := resp.ContentLength < 0 || streamingType(h["Content-Type"])
	// Headers now: an event stream may be quiet for long. Not for a body
	// known to be empty: an h2 response that ended with its HEADERS frame
	// must stay one frame with END_STREAM, as the gRPC server's
	// trailers-only errors are (grpc-status in the headers); flushed, it
	// would become headers without trailers, which gRPC clients refuse.
	if flush && resp.ContentLength != 0 {
		_ = rc.Flush()
	}
	if p.o.MinResponseRate > 0 && !isGRPC(r.Header) {
		dl.minRate, dl.grace = p.o.MinResponseRate, p.o.MinResponseGrace
	}
	if err := copyBody(w, rc, &dl, resp.Body, flush, &x.BytesOut); err != nil {
		if err.Kind != KindClientGone && r.Context().Err() != nil {
			err.Kind, err.Status, err.Aborted = KindClientGone, StatusClientClosed, false
		}
		return err
	}
	resp.Body.Close() // now, so that the transport fills resp.Trailer
	if gs := resp.Trailer["Grpc-Status"]; len(gs) > 0 {
		x.GRPCStatus = gs[0]
	}
	if n := len(resp.Trailer); n > 0 {
		if n == announced {
			for k, vv := range resp.Trailer {
				h[k] = vv
			}
			return nil
		}
		// Trailers the upstream did not announce (gRPC over h2 never does):
		// force chunking so the server cannot frame a short body with a
		// Content-Length, then send them through TrailerPrefix.
		_ = rc.Flush()
		for k, vv := range resp.Trailer {
			h[http.TrailerPrefix+k] = vv
		}
	}
	return nil
}

// copyHeader sets src's fields in dst, replacing values. The slices are
// shared: src is the response's own header, used by nothing after this.
func copyHeader(dst, src http.Header) {
	for k, vv := range src {
		dst[k] = vv
	}
}

// trailerKeys is the value of the Trailer header announcing tr's fields.
func trailerKeys(tr http.Header) string {
	var b strings.Builder
	for k := range tr {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
	}
	return b.String()
}

// streamingType reports a content type whose messages must reach the client
// as they are produced: server-sent events and gRPC.
func streamingType(ct []string) bool {
	if len(ct) == 0 {
		return false
	}
	return hasPrefixFold(ct[0], "text/event-stream") || hasPrefixFold(ct[0], "application/grpc")
}

// bodyAllowed reports whether a response with this status may have a body
// (RFC 9110 §6.4.1), and so a Content-Length.
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// copyBody streams src to the client through a pooled buffer, extending the
// write deadline as it goes and flushing after each write if asked. A
// failed read of src after the response started must abort the response,
// and so must a client too slow to read it (dl.minRate): the response is
// cut off rather than ended early in a way that looks complete.
func copyBody(w http.ResponseWriter, rc *http.ResponseController, dl *deadline, src io.Reader, flush bool, written *int64) *Error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			now := time.Now()
			if err := dl.before(rc, now, *written); err != nil {
				return &Error{Kind: KindClientGone, Status: StatusClientClosed, Err: err, Aborted: true}
			}
			m, err := w.Write(buf[:n])
			*written += int64(m)
			if err == nil && flush {
				err = rc.Flush()
				if errors.Is(err, http.ErrNotSupported) {
					err = nil
				}
			}
			if err != nil {
				if dl.rateBound && isTimeout(err) {
					// The deadline that fired was the rate's.
					return &Error{Kind: KindClientGone, Status: StatusClientClosed, Err: &slowResponseError{rate: dl.minRate}, Aborted: true}
				}
				return &Error{Kind: KindClientGone, Status: StatusClientClosed, Err: err}
			}
			dl.after(rc, now)
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			if isTimeout(rerr) {
				return &Error{Kind: KindTimeout, Status: http.StatusGatewayTimeout, Err: rerr, Aborted: true}
			}
			return &Error{Kind: KindBadResponse, Status: http.StatusBadGateway, Err: rerr, Aborted: true}
		}
	}
}

// deadline extends the client's write deadline as bytes flow. It moves the
// deadline at most every quarter timeout: a stalled reader is still cut off
// within [3/4, 1] of the timeout, and a fast stream does not pay a deadline
// update per write.
//
// With a minimum rate, it also keeps the client to minRate bytes a second
// on average once grace is used up, counting only the time spent in writes
// (waited): the time the client takes to make room, not the time the
// upstream takes to produce the next bytes. Before a write the deadline is
// brought forward to when the client's allowance would run out; while that
// is sooner than the timeout (rateBound: early in a body, or for a client
// that is falling behind) it is pushed back after the write, because an
// HTTP/2 stream's write deadline fires even while no write is waiting, and
// a quiet upstream is not the client's fault.
type deadline struct {
	timeout time.Duration
	at      time.Time
	off     bool // the writer cannot set deadlines

	minRate   int64
	grace     time.Duration
	waited    time.Duration
	rateBound bool // at was set from the rate, not the timeout
}

// extend sets the deadline a timeout from now, unless it is already at
// least 3/4 of a timeout away.
func (d *deadline) extend(rc *http.ResponseController, now time.Time) {
	if d.timeout <= 0 || d.off {
		return
	}
	if !d.rateBound && d.at.Sub(now) >= d.timeout-d.timeout/4 {
		return
	}
	d.set(rc, now.Add(d.timeout))
	d.rateBound = false
}

// before readies the deadline for a write with written bytes sent so far,
// or fails if the client has used up its allowance under the minimum rate.
func (d *deadline) before(rc *http.ResponseController, now time.Time, written int64) error {
	if d.minRate <= 0 {
		d.extend(rc, now)
		return nil
	}
	earned := time.Duration(float64(written) / float64(d.minRate) * float64(time.Second))
	left := d.grace + earned - d.waited
	if left <= 0 {
		return &slowResponseError{rate: d.minRate}
	}
	if d.timeout > 0 && left >= d.timeout {
		d.extend(rc, now)
		return nil
	}
	// Only move a rate deadline that is off by more than a quarter of the
	// grace, so a client well within its allowance costs few updates.
	if due := now.Add(left); !d.off && (!d.rateBound || absDuration(due.Sub(d.at)) > d.grace/4) {
		d.set(rc, due)
		d.rateBound = true
	}
	return nil
}

// after counts the time the write took against the client and lifts a rate
// deadline, so it cannot fire while the next bytes are awaited upstream.
func (d *deadline) after(rc *http.ResponseController, start time.Time) {
	if d.minRate <= 0 {
		return
	}
	now := time.Now()
	d.waited += now.Sub(start)
	if d.rateBound {
		if d.timeout > 0 {
			d.set(rc, now.Add(d.timeout))
		} else {
			d.set(rc, time.Time{})
		}
		d.rateBound = false
	}
}

func (d *deadline) set(rc *http.ResponseController, at time.Time) {
	if d.off {
		return
	}
	d.at = at
	if rc.SetWriteDeadline(at) != nil {
		d.off = true // the writer cannot; stop asking (the rate is still checked per write)
	}
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// slowResponseError is a client that read a response slower than the
// minimum rate: a timeout, as the write deadline reports it.
type slowResponseError struct{ rate int64 }

func (e *slowResponseError) Error() string {
	return "client read the response slower than " + strconv.FormatInt(e.rate, 10) + " bytes/s"
}

func (e *slowResponseError) Is(target error) bool { return target == os.ErrDeadlineExceeded }
func (e *slowResponseError) Timeout() bool        { return true }

// SlowClient reports whether err is a response cut off by the minimum
// response rate, for the logs and metrics that count them.
func SlowClient(err error) bool {
	var s *slowResponseError
	return errors.As(err, &s)
}
