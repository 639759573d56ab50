package gateway

import (
	"context"
	"net/http"
	"time"

	"github.com/wasmgate/wasmgate/core/aggregate"
	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/proxy"
	"github.com/wasmgate/wasmgate/core/upstream"
)

// aggregate compiles a route's aggregate target; nil if it is invalid
// (reported).
func (b *builder) aggregate(base string, rc *config.Route, params []string, s *Snapshot) *aggregate.Plan {
	// Calls get the upstream's own timeouts and retry policy; the route's
	// timeout bounds the whole fan-out (aggregate.Options.Timeout).
	callProxy := proxy.New(proxy.Options{Observer: attemptObserver(s.observer)})
	plan, err := aggregate.Compile(rc.Aggregate, aggregate.Options{
		Params:  params,
		Timeout: rc.Timeouts.Request.D(),
		Caller: func(name string) aggregate.Caller {
			if u := s.upstreams[name]; u != nil {
				return upstreamCaller{u: u, proxy: callProxy}
			}
			return nil // not built; already reported
		},
	})
	if err != nil {
		b.fail(base+".aggregate", err)
		return nil
	}
	return plan
}

// upstreamCaller sends an aggregate's backend calls through the same
// attempt loop as proxied requests: the balancer, retries within the
// upstream's budget, the circuit breaker, passive health, and the attempt
// observer (metrics, a client span per call) all apply.
type upstreamCaller struct {
	u     *upstream.Upstream
	proxy *proxy.Proxy
}

// Do runs one backend call as a sub-exchange of the client's. The call
// carries the client's forwarding identity (address, host, TLS) so the
// backend sees X-Forwarded-* as for a proxied request; the client's own
// forwarding headers are never passed on (the peer is not trusted here).
func (c upstreamCaller) Do(ctx context.Context, parent *filter.Exchange, req *http.Request) (*http.Response, error) {
	in := parent.Request
	req = req.WithContext(ctx)
	req.RemoteAddr, req.TLS = in.RemoteAddr, in.TLS
	req.Host = in.Host
	sub := &filter.Exchange{
		Request:    req,
		Route:      parent.Route,
		RouteIndex: parent.RouteIndex,
		Params:     parent.Params,
		ClientIP:   parent.ClientIP,
		Start:      time.Now(),
		Consumer:   parent.Consumer,
		RequestID:  parent.RequestID,
	}
	// The call's client spans are children of the client's server span.
	// The sub-exchange only reads it (spans are safe for concurrent use);
	// attempts are recorded on the sub-exchange, never on the parent,
	// which other calls' goroutines share.
	sub.SetSpan(parent.Span())
	resp, perr := c.proxy.RoundTrip(discard{}, sub, c.u, false)
	if perr != nil {
		return nil, perr
	}
	return resp, nil
}

// caller gives filters (Wasm callouts) the snapshot's own upstream, so a
// target's health, pools and breaker are one whether a route or a plugin
// calls it, and active checks run once. No attempt observer: a filter may
// be kept across reloads that replace the snapshot's observer.
func (b *builder) caller(name string) filter.Caller {
	if b.snap == nil || b.snap.upstreams[name] == nil {
		return nil
	}
	return filterCaller{u: b.snap.upstreams[name], proxy: proxy.New(proxy.Options{})}
}

// filterCaller is a filter's request to an upstream: an exchange of its
// own, with no client behind it.
type filterCaller struct {
	u     *upstream.Upstream
	proxy *proxy.Proxy
}

func (c filterCaller) Call(ctx context.Context, req *http.Request) (*http.Response, error) {
	x := &filter.Exchange{Request: req.WithContext(ctx), Start: time.Now()}
	resp, perr := c.proxy.RoundTrip(discard{}, x, c.u, false)
	if perr != nil {
		return nil, perr
	}
	return resp, nil
}

// discard is the response writer of a sub-exchange: informational
// responses a backend sends while a call runs go nowhere.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}
