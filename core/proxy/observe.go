package proxy

import (
	"net/http"
	"time"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/upstream"
)

// startAttempt records, on the exchange and in a, an attempt about to be
// sent to target, and lets the observer edit out's headers (trace context).
// Every attempt, retries included, goes through startAttempt and endAttempt.
func (p *Proxy) startAttempt(x *filter.Exchange, a *filter.Attempt, up *upstream.Upstream, target *upstream.Target, out *http.Request) {
	x.Attempts++
	x.Upstream, x.Target = up.Name, target.Host
	*a = filter.Attempt{Upstream: up.Name, Target: target.Host, N: x.Attempts, Request: out, Start: time.Now()}
	if p.o.Observer != nil {
		p.o.Observer.AttemptStart(x, a)
	}
}

// endAttempt records how an attempt ended: the upstream's status, or perr.
func (p *Proxy) endAttempt(x *filter.Exchange, a *filter.Attempt, status int, perr *Error) {
	a.Duration = time.Since(a.Start)
	a.Status = status
	a.Err, a.ErrorType = nil, ""
	x.UpstreamDuration += a.Duration
	if perr != nil {
		a.Err, a.ErrorType = perr, perr.Kind.String()
	}
	x.Err = a.Err // a retry that succeeds clears the failure before it
	if p.o.Observer != nil {
		p.o.Observer.AttemptEnd(x, a)
	}
}

// String is the kind as a fixed, low-cardinality label (error.type).
func (k Kind) String() string {
	switch k {
	case KindConnect:
		return "connect"
	case KindTimeout:
		return "timeout"
	case KindBadResponse:
		return "bad_response"
	case KindClientGone:
		return "client_gone"
	case KindClientBody:
		return "client_body"
	}
	return "unknown"
}
