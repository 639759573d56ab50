package wasm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/wasmgate/wasmgate/core/filter"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/proxywasm"
)

// HTTP callouts (proxy_http_call). The filter contract is synchronous, so a
// stream that dispatches callouts waits for them on its own goroutine, with
// the instance's mutex released so other exchanges keep using the
// instance; each response is then delivered to the root context
// (proxy_on_http_call_response), from which the guest switches back to the
// stream with proxy_set_effective_context. Callouts dispatched from the
// root context (tick, queue, configure) are delivered in the background.

// Caller sends one callout to a named upstream. The gateway's callers run
// the upstream's attempt loop (balancer, retries, breaker, health);
// URLCaller reaches a fixed base URL.
type Caller interface {
	Call(ctx context.Context, req *http.Request) (*http.Response, error)
}

// URLCaller returns a Caller that sends callouts to base (scheme://host[:port])
// with http.DefaultTransport: for tests and `wasmgate plugin test`.
func URLCaller(base string) Caller { return urlCaller{Base: strings.TrimSuffix(base, "/")} }

type urlCaller struct{ Base string }

func (c urlCaller) Call(ctx context.Context, req *http.Request) (*http.Response, error) {
	u, err := req.URL.Parse(c.Base + req.URL.RequestURI())
	if err != nil {
		return nil, err
	}
	req = req.WithContext(ctx)
	req.URL, req.RequestURI = u, ""
	return http.DefaultTransport.RoundTrip(req)
}

// callout is one proxy_http_call in flight, then its result.
type callout struct {
	id     uint32
	owner  *stream       // nil: dispatched by the root context
	root   *root         // the root context that gets the response
	ready  chan *callout // the owner's ready channel (not read through owner: streams are reused)
	cancel context.CancelFunc

	resp proxywasm.CallResponse
	err  error // timeout, refused, transport error: delivered as 0 headers
}

var errCalloutCap = errors.New("the exchange has too many callouts in flight")

// HTTPCall implements proxywasm.Host: it dispatches req to the declared
// upstream within d, from the running stream (whose callbacks wait for
// its response) or the root context (whose response arrives in the
// background).
func (h *pwHost) HTTPCall(upstream string, req *http.Request, d time.Duration) (uint32, proxywasm.Status) {
	in := (*instance)(h)
	p := in.p
	caller := p.opts.Callouts[upstream]
	s := in.cur
	parent := p.host.bgCtx
	c := &callout{owner: s, root: in.curRoot()}
	if s != nil {
		if len(s.host.pending) >= p.opts.CalloutLimit {
			return 0, proxywasm.StatusInternalFailure
		}
		if s.host.ready == nil {
			s.host.ready = make(chan *callout, p.opts.CalloutLimit)
		}
		c.ready = s.host.ready
		parent = s.x.Request.Context()
	} else if !p.host.enter() { // root callouts are background work
		return 0, proxywasm.StatusInternalFailure
	}
	if in.host.nextCallout++; in.host.nextCallout == 0 {
		in.host.nextCallout = 1
	}
	c.id = in.host.nextCallout
	ctx, cancel := context.WithTimeout(parent, d)
	c.cancel = cancel
	if s != nil {
		s.host.pending = append(s.host.pending, c)
		go c.run(ctx, p, caller, req)
		return c.id, proxywasm.StatusOK
	}
	go func() {
		defer p.host.exit()
		c.run(ctx, p, caller, req)
		p.onRoot(in, func() error { return in.deliver(c) })
	}()
	return c.id, proxywasm.StatusOK
}

func (h *pwHost) HasUpstream(name string) bool  { return h.p.opts.Callouts[name] != nil }
func (h *pwHost) CalloutTimeout() time.Duration { return h.p.opts.CalloutTimeout }

// run sends the callout within its deadline, once a slot of the plugin's
// concurrency cap is free, and hands the result to its owner.
func (c *callout) run(ctx context.Context, p *Plugin, caller Caller, req *http.Request) {
	defer c.cancel()
	defer func() {
		if c.ready != nil {
			c.ready <- c // never blocks: capacity is the per-exchange cap
		}
	}()
	select {
	case p.host.slots <- struct{}{}:
		defer func() { <-p.host.slots }()
	case <-ctx.Done():
		c.err = fmt.Errorf("callout waited for a free slot (limits.callouts %d): %w", cap(p.host.slots), ctx.Err())
		return
	}
	resp, err := caller.Call(ctx, req)
	if err != nil {
		c.err = err
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, p.opts.MaxBody+1))
	switch {
	case err != nil:
		c.err = err
	case int64(len(body)) > p.opts.MaxBody:
		c.err = fmt.Errorf("callout response body over limits.max_body (%d bytes)", p.opts.MaxBody)
	default:
		c.resp = proxywasm.CallResponse{Status: resp.StatusCode, Header: resp.Header, Body: body, Trailer: resp.Trailer}
	}
}

// callAwait runs a stream callback and then, if it dispatched callouts,
// waits for each and delivers it. Callers hold in.mu with in.cur == s.
//
// A callback that returned Continue is not held: Envoy lets the stream
// proceed while its callouts are in flight. They are delivered as they
// complete, before the stream's next callback (deliverReady), and those
// still in flight when the stream ends are cancelled, as Envoy cancels a
// context's calls when the context is destroyed.
func (in *instance) callAwait(s *stream, cb callback, args ...uint64) (uint64, error) {
	s.host.resumed = false
	if err := in.deliverReady(s); err != nil {
		return 0, err
	}
	in.cur = s
	act, err := in.call(cb, args...)
	in.cur = s // the guest may have left another context effective
	if err == nil && len(s.host.pending) > 0 && act != proxywasm.ActionContinue {
		err = in.awaitCallouts(s)
		if err == nil && !s.host.resumed && s.pw.Local == nil && s.host.failed != nil {
			s.host.policy = true
		}
	}
	if c := s.capture; c != nil && err == nil {
		c.notePause(cb, act != proxywasm.ActionContinue && !s.host.resumed && s.pw.Local == nil)
	}
	return act, err
}

// awaitCallouts delivers the stream's callouts as they complete, including
// any the guest dispatches from a delivery, until none is left or the guest
// answers locally. The instance is unlocked while waiting.
func (in *instance) awaitCallouts(s *stream) error {
	defer s.host.cancel()
	gone := s.x.Request.Context().Done()
	for len(s.host.pending) > 0 && s.pw.Local == nil {
		in.cur = nil
		in.mu.Unlock()
		var c *callout
		select {
		case c = <-s.host.ready:
		case <-gone:
		}
		in.mu.Lock()
		in.cur = s
		if c == nil { // the client left: nothing to deliver to
			s.host.failed = context.Canceled
			return nil
		}
		for i, pc := range s.host.pending {
			if pc == c {
				s.host.pending = append(s.host.pending[:i], s.host.pending[i+1:]...)
				break
			}
		}
		if c.err != nil {
			s.host.failed = c.err
			in.p.logger.Warn("wasm callout failed", "route", s.x.Route, "err", c.err)
		}
		if err := in.deliver(c); err != nil {
			return err
		}
	}
	return nil
}

// deliverReady delivers the stream's callouts that completed since its
// last callback, without waiting for the others. Callers hold in.mu with
// in.cur == s.
func (in *instance) deliverReady(s *stream) error {
	for len(s.host.pending) > 0 && s.pw.Local == nil {
		var c *callout
		select {
		case c = <-s.host.ready:
		default:
			return nil
		}
		s.host.pending = slices.DeleteFunc(s.host.pending, func(pc *callout) bool { return pc == c })
		if c.err != nil {
			in.p.logger.Warn("wasm callout failed", "route", s.x.Route, "err", c.err)
		}
		if err := in.deliver(c); err != nil {
			return err
		}
	}
	return nil
}

// deliver calls proxy_on_http_call_response on the root context, with c's
// response readable as map types 6/7 and buffer type 4. Callers hold in.mu.
func (in *instance) deliver(c *callout) error {
	if in.fns[proxywasm.OnHTTPCallResponse] == nil {
		return nil
	}
	var nh, nb, nt int
	if c.err == nil {
		nh, nb, nt = countHeaders(c.resp.Header)+1, len(c.resp.Body), countHeaders(c.resp.Trailer)
	}
	if !in.hasRoot(c.root) {
		return nil // its configuration was retired meanwhile (roots.go)
	}
	prev, prevRoot := in.cur, in.root
	in.cur, in.root, in.host.delivering = nil, c.root, c
	_, err := in.call(proxywasm.OnHTTPCallResponse, uint64(c.root.id), uint64(c.id), uint64(nh), uint64(nb), uint64(nt))
	in.cur, in.root, in.host.delivering = prev, prevRoot, nil
	return err
}

// calloutFailure applies the failure policy to an exchange whose callout
// failed while it was paused, and which the guest neither resumed nor
// answered. The instance is fine: it is kept.
func (f *Filter) calloutFailure(s *stream) (*filter.Response, bool) {
	if !s.host.policy {
		return nil, false
	}
	s.failed = true
	err := fmt.Errorf("callout failed and the plugin neither resumed nor answered: %w", s.host.failed)
	f.p.stats.failures.Add(1)
	s.kind = failKindError
	if errors.Is(s.host.failed, context.DeadlineExceeded) {
		f.p.stats.timeouts.Add(1)
		s.kind = failKindTimeout
	}
	if c := s.capture; c != nil {
		c.logs = append(c.logs, LogEntry{Level: "host", Message: "callout: " + err.Error()})
		if c.err == nil {
			c.err = err
		}
	}
	f.p.logger.Error("wasm plugin failed", "route", s.x.Route, "phase", "callout", "err", err, "policy", policyName(f.failure == nil))
	if f.failure == nil {
		return nil, true
	}
	r := *f.failure
	r.Header = f.failure.Header.Clone()
	return &r, true
}
