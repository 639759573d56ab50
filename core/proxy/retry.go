package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"time"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/upstream"
)

// Retries happen here, inside RoundTrip, before anything of the response
// reached the client, so a retry is invisible to it. Every attempt sends
// the same outbound headers (RoundTrip rewrote them once) to a target
// other than the last one tried, if there is another.
//
// What may be retried:
//   - a connect failure (nothing was sent): any method, if the body can be
//     sent again or none of it was read yet;
//   - a reset or a timeout before the response, or a listed status: only
//     idempotent methods (or with non_idempotent), and only a body that can
//     be sent again (see setBody);
//   - never once a 1xx response was relayed to the client, never past the
//     route's timeout, and never beyond the upstream's retry budget.
//
// Waits between attempts are exponential with jitter (RetryPolicy.Backoff).

// replay is whether, and with what, a request body can be sent again.
type replay struct {
	ok   bool   // no body, or data holds it whole
	data []byte // nil for no body
}

// attempts runs the attempt loop and returns the response to relay.
func (p *Proxy) attempts(ctx context.Context, x *filter.Exchange, up *upstream.Upstream, t *trip, tmpl *http.Request, policy *upstream.RetryPolicy, rp replay) (*http.Response, *Error) {
	in := x.Request
	var prev *upstream.Target
	for attempt := 1; ; attempt++ {
		target := up.Pick(x, prev)
		u := &t.url
		if attempt > 1 {
			u = new(url.URL) // the failed attempt's request may still be referenced
			tmpl.Body, tmpl.GetBody = t.again(rp)
		}
		*u = url.URL{
			Scheme:     target.URL.Scheme,
			Host:       target.URL.Host,
			RawQuery:   in.URL.RawQuery,
			ForceQuery: in.URL.ForceQuery,
		}
		u.Path, u.RawPath = joinPath(target.URL, in.URL)
		tmpl.URL = u
		tmpl.Host = target.Host
		if p.o.PreserveHost {
			tmpl.Host = in.Host
		}

		actx, cancel, timer := p.attemptContext(ctx)
		out := tmpl.WithContext(actx)
		p.startAttempt(x, &t.attempt, up, target, out)
		target.Begin()
		start := time.Now()
		resp, err := up.TransportFor(target).RoundTrip(out)
		headerTimeout := timer != nil && !timer.Stop()
		t.gotConn(httptrace.GotConnInfo{})

		if err != nil {
			if cancel != nil {
				cancel(nil)
			}
			var perr *Error
			switch {
			case headerTimeout:
				perr = &Error{Kind: KindTimeout, Status: http.StatusGatewayTimeout, Err: errHeaderTimeout}
			case deadlinePassed(ctx) && in.Context().Err() == nil:
				// The exchange's deadline passed: whatever the transport
				// reports (the upstream, told the same deadline by
				// grpc-timeout, may reset the stream first), it is a timeout.
				perr = &Error{Kind: KindTimeout, Status: http.StatusGatewayTimeout, Err: context.DeadlineExceeded}
			default:
				perr = classify(err, in, t)
			}
			p.endAttempt(x, &t.attempt, 0, perr)
			failed := upstreamFault(perr.Kind)
			if failed {
				up.Observe(target, start, true)
			}
			target.End()
			if p.retryable(ctx, policy, perr, in.Method, rp, t, attempt) && up.AcquireRetry(&t.call, policy) &&
				sleep(ctx, policy.Backoff(attempt)) {
				prev = target
				continue
			}
			up.Record(&t.call, failed, !failed)
			return nil, perr
		}

		p.endAttempt(x, &t.attempt, resp.StatusCode, nil)
		failed := resp.StatusCode >= 500
		up.Observe(target, start, failed)
		if failed && policy != nil && attempt < policy.Attempts && policy.OnStatus(resp.StatusCode) &&
			rp.ok && (policy.NonIdempotent || upstream.Idempotent(in.Method)) && !t.relayed1xx() &&
			up.AcquireRetry(&t.call, policy) && sleep(ctx, policy.Backoff(attempt)) {
			// Drain a little so the connection can be reused, then drop it.
			_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
			resp.Body.Close()
			if cancel != nil {
				cancel(nil)
			}
			target.End()
			prev = target
			continue
		}
		up.Record(&t.call, failed, false)
		t.target = target
		t.attemptCancel = cancel
		return resp, nil
	}
}

// attemptContext bounds one attempt by the route's response header timeout,
// if it has one: a timer cancels the attempt unless stopped when the
// headers arrive. The context itself lives on for the body.
func (p *Proxy) attemptContext(ctx context.Context) (context.Context, context.CancelCauseFunc, *time.Timer) {
	if p.o.ResponseHeaderTimeout <= 0 {
		return ctx, nil, nil
	}
	actx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(p.o.ResponseHeaderTimeout, func() { cancel(errHeaderTimeout) })
	return actx, cancel, timer
}

// retryable decides whether a failed attempt may be tried again (the budget
// is asked after).
func (p *Proxy) retryable(ctx context.Context, policy *upstream.RetryPolicy, perr *Error, method string, rp replay, t *trip, attempt int) bool {
	if policy == nil || attempt >= policy.Attempts || ctx.Err() != nil || t.relayed1xx() {
		return false
	}
	sent := policy.NonIdempotent || upstream.Idempotent(method)
	switch perr.Kind {
	case KindConnect:
		return policy.OnConnect() && (rp.ok || t.body.n.Load() == 0)
	case KindBadResponse:
		return policy.OnReset() && rp.ok && sent
	case KindTimeout:
		return policy.OnTimeout() && rp.ok && sent
	}
	return false
}

// again returns the body for a retry: a fresh reader over the replayable
// bytes, or the client's stream when none of it was read (connect failure).
func (t *trip) again(rp replay) (io.ReadCloser, func() (io.ReadCloser, error)) {
	switch {
	case rp.ok && rp.data == nil:
		return nil, nil
	case rp.ok:
		data := rp.data
		get := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		body, _ := get()
		return body, get
	}
	return &t.body, nil
}

// relayed1xx reports whether an informational response already went to the
// client: response bytes were written, so nothing may be retried.
func (t *trip) relayed1xx() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n1xx > 0
}

// upstreamFault reports whether a failure counts against the upstream
// (passive health, the breaker), rather than against the client.
func upstreamFault(k Kind) bool {
	return k == KindConnect || k == KindTimeout || k == KindBadResponse
}

// getConn and gotConn count an attempt waiting for a connection, for the
// upstream's max_pending limit; gotConn also ends the wait of an attempt
// that failed before it got one.
func (t *trip) getConn(string) {
	if t.waiting.CompareAndSwap(false, true) {
		t.up.WaitConn()
	}
}

func (t *trip) gotConn(httptrace.GotConnInfo) {
	if t.waiting.CompareAndSwap(true, false) {
		t.up.GotConn()
	}
}

// sleep waits d unless ctx ends first; it reports whether to go on.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C:
		return true
	}
}

var (
	errRefused       = errorString("upstream refused the request (circuit breaker)")
	errHeaderTimeout = errorString("no response headers within the route's response_header timeout")
)

// deadlinePassed reports an exchange whose deadline has passed, by the
// clock as well as by its context: on a loaded machine the upstream's
// reset at the deadline it was told (grpc-timeout, rounded up) can come
// before the context's timer has run.
func deadlinePassed(ctx context.Context) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}
