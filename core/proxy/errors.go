package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/wasmgate/wasmgate/core/filter"
)

// Kind says which side of an exchange failed, and how. Retries and passive
// health checks decide on it; the client only ever sees Status and a fixed
// reason, never the underlying error's text.
type Kind uint8

const (
	// KindConnect: the target could not be reached (refused, unreachable,
	// DNS, TLS handshake). Nothing was sent; safe to retry elsewhere.
	KindConnect Kind = iota + 1
	// KindTimeout: the upstream did not answer in time (response header
	// timeout, the route's timeout). Status 504.
	KindTimeout
	// KindBadResponse: the upstream broke the protocol or the connection
	// (malformed response, reset, a body cut short). Status 502.
	KindBadResponse
	// KindClientGone: the client went away. Nothing should be written; it is
	// logged at debug level with StatusClientClosed.
	KindClientGone
	// KindClientBody: reading the client's request body failed: too large
	// (413) or stalled past the read timeout (408).
	KindClientBody
	// KindUnavailable: the upstream refused the exchange before any attempt
	// (circuit breaker open, a concurrency limit reached). Status 503 with
	// Retry-After; nothing was sent.
	KindUnavailable
)

// StatusClientClosed is the status logged when the client went away before
// the response was complete (nginx's 499). It is never written.
const StatusClientClosed = 499

// Error is a failed exchange with the upstream. Status is what the client
// gets (Response builds the JSON body); Err is the cause, for logs only.
type Error struct {
	Kind   Kind
	Status int
	Err    error
	// RetryAfter is when the client may try again (KindUnavailable).
	RetryAfter time.Duration
	// detail is the upstream's reason for refusing (KindUnavailable).
	detail string
	// Aborted is set by WriteResponse when the response had already started:
	// the client must see a broken response rather than a truncated one that
	// looks complete, so the caller should panic(http.ErrAbortHandler) once
	// its bookkeeping is done.
	Aborted bool
}

// Reason is the fixed, client-safe description of the failure.
func (e *Error) Reason() string {
	switch {
	case e.Kind == KindUnavailable && e.detail != "":
		return e.detail
	case e.Kind == KindUnavailable:
		return "upstream unavailable"
	case e.Kind == KindConnect && e.Status == http.StatusGatewayTimeout:
		return "upstream connect timeout"
	case e.Kind == KindConnect:
		return "upstream connect failure"
	case e.Kind == KindTimeout:
		return "upstream timeout"
	case e.Kind == KindClientGone:
		return "client closed request"
	case e.Status == http.StatusRequestEntityTooLarge:
		return "request body too large"
	case e.Kind == KindClientBody && e.Status == http.StatusBadRequest:
		return "malformed request body"
	case e.Kind == KindClientBody:
		return "request body timeout"
	}
	return "bad upstream response"
}

// Error is for logs: the reason and the internal cause.
func (e *Error) Error() string {
	if e.Err == nil {
		return "proxy: " + e.Reason()
	}
	return "proxy: " + e.Reason() + ": " + e.Err.Error()
}

// Unwrap exposes the cause to errors.Is/As.
func (e *Error) Unwrap() error { return e.Err }

// Timeout reports whether the upstream took too long (as net.Error does).
func (e *Error) Timeout() bool { return e.Kind == KindTimeout }

// Response is the JSON error response for the client:
// {"error": reason, "status": N}.
// A refusal by the upstream carries Retry-After in whole seconds (RFC 9110
// §10.2.3), rounded up.
func (e *Error) Response() *filter.Response {
	r := filter.Error(e.Status, e.Reason())
	if e.RetryAfter > 0 {
		r.Header["Retry-After"] = []string{strconv.FormatInt(int64((e.RetryAfter+time.Second-1)/time.Second), 10)}
	}
	return r
}

// classify maps a failed round trip to an Error. Order matters: a failed
// read of the client's body explains the transport's error (and the server
// cancels the request's context on it, so it must come first), a client
// that left explains the rest, and only then is the upstream to blame.
func classify(err error, in *http.Request, t *trip) *Error {
	if berr := t.body.readErr(); berr != nil {
		return clientBodyError(berr)
	}
	if in.Context().Err() != nil {
		return &Error{Kind: KindClientGone, Status: StatusClientClosed, Err: err}
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		if isTimeout(err) {
			return &Error{Kind: KindConnect, Status: http.StatusGatewayTimeout, Err: err}
		}
		return &Error{Kind: KindConnect, Status: http.StatusBadGateway, Err: err}
	}
	if isTimeout(err) {
		return &Error{Kind: KindTimeout, Status: http.StatusGatewayTimeout, Err: err}
	}
	var (
		certErr *tls.CertificateVerificationError
		alert   tls.AlertError
		record  tls.RecordHeaderError
	)
	if errors.As(err, &certErr) || errors.As(err, &alert) || errors.As(err, &record) {
		return &Error{Kind: KindConnect, Status: http.StatusBadGateway, Err: err}
	}
	return &Error{Kind: KindBadResponse, Status: http.StatusBadGateway, Err: err}
}

// clientBodyError maps a failed read of the client's request body.
//
// What is neither a limit, a timeout nor a connection that ended is a body
// net/http could not decode (a bad chunk-size line, chunk data longer than
// its size): the client is still there and must hear 400. Taking it for a
// client that left would write nothing, and net/http would then answer the
// request with an empty 200 of its own.
func clientBodyError(err error) *Error {
	var (
		tooLarge *http.MaxBytesError
		netErr   net.Error
	)
	switch {
	case errors.As(err, &tooLarge):
		return &Error{Kind: KindClientBody, Status: http.StatusRequestEntityTooLarge, Err: err}
	case errors.Is(err, os.ErrDeadlineExceeded):
		return &Error{Kind: KindClientBody, Status: http.StatusRequestTimeout, Err: err}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, http.ErrBodyReadAfterClose), errors.Is(err, errBodyClosed),
		errors.Is(err, context.Canceled), errors.As(err, &netErr):
		return &Error{Kind: KindClientGone, Status: StatusClientClosed, Err: err}
	}
	return &Error{Kind: KindClientBody, Status: http.StatusBadRequest, Err: err}
}

// isTimeout reports a deadline: the route's context or a net timeout.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
