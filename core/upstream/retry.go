package upstream

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
)

// RetryPolicy is a compiled retries block: what may be retried and how
// often. It is immutable. The proxy runs the loop (core/proxy/retry.go);
// the budget it spends is the upstream's (AcquireRetry).
type RetryPolicy struct {
	Attempts      int   // tries in total, the first included
	BufferBody    int64 // bodies up to this size are read up front so they can be resent
	NonIdempotent bool

	onConnect, onReset, onTimeout, on5xx bool
	statuses                             [2]uint64 // bit i: status 500+i

	budget     float64
	minRetries int
	base, max  time.Duration
}

// NewRetryPolicy compiles a (defaulted, validated) retries block.
func NewRetryPolicy(c *config.Retries) *RetryPolicy {
	p := &RetryPolicy{
		Attempts: c.Attempts, BufferBody: int64(c.BufferBody), NonIdempotent: c.NonIdempotent,
		budget: float64(c.Budget), minRetries: c.MinRetries, base: c.Backoff.Base.D(), max: c.Backoff.Max.D(),
	}
	for _, on := range c.On {
		switch on {
		case "connect_failure":
			p.onConnect = true
		case "reset":
			p.onReset = true
		case "timeout":
			p.onTimeout = true
		case "5xx":
			p.on5xx = true
		default:
			if n, err := strconv.Atoi(on); err == nil && n >= 500 && n <= 599 {
				p.statuses[(n-500)/64] |= 1 << ((n - 500) % 64)
			}
		}
	}
	return p
}

// OnConnect, OnReset and OnTimeout report the failure conditions retried.
func (p *RetryPolicy) OnConnect() bool { return p.onConnect }
func (p *RetryPolicy) OnReset() bool   { return p.onReset }
func (p *RetryPolicy) OnTimeout() bool { return p.onTimeout }

// OnStatus reports whether a response with this status is retried.
func (p *RetryPolicy) OnStatus(code int) bool {
	if code < 500 || code > 599 {
		return false
	}
	if p.on5xx {
		return true
	}
	i := code - 500
	return p.statuses[i/64]&(1<<(i%64)) != 0
}

// Backoff is the wait before retry n (1-based): exponential from base,
// capped at max, with jitter over its upper half so that clients that
// failed together do not retry together.
func (p *RetryPolicy) Backoff(n int) time.Duration {
	d := p.max
	if n < 30 {
		if e := p.base << (n - 1); e > 0 && e < d {
			d = e
		}
	}
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

// Idempotent reports whether method may be sent twice with the effect of
// once (RFC 9110 §9.2.2), so a retry after it was sent is harmless.
func Idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}
