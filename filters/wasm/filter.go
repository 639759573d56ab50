package wasm

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/wasmgate/wasmgate/core/filter"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/proxywasm"
	"github.com/wasmgate/wasmgate/filters/wasm/internal/wasmrt"
)

// Filter runs a plugin in a route's chain. One Filter per route entry;
// the Plugin (and its pool) is shared by every route that names it.
type Filter struct {
	p       *Plugin
	root    *root // the configuration its streams run under (roots.go)
	needs   filter.Needs
	failure *filter.Response // fail_closed's answer; nil when failing open
	capture *capture         // Plugin.Exchange only
	metrics *phaseMetrics    // nil when metrics are off
	// holdTimeouts counts streams held past limits.hold (body.go);
	// holdFor, if set, holds shorter (Plugin.Exchange).
	holdTimeouts *filter.Counter
	holdFor      time.Duration
}

// NewFilter returns a chain filter running p.
func (p *Plugin) NewFilter() *Filter {
	f := &Filter{p: p, root: p.newestRoot(), holdTimeouts: new(filter.Counter)}
	streamReq, streamResp := p.streamsBody()
	if p.opts.RequestBody || p.opts.ResponseBody || streamReq || streamResp {
		f.needs = filter.Needs{RequestBody: p.opts.RequestBody, ResponseBody: p.opts.ResponseBody,
			StreamRequestBody: streamReq, StreamResponseBody: streamResp, MaxBody: p.opts.MaxBody}
	}
	if p.abi == abiHTTPWasm {
		f.needs = p.hwNeeds(f.needs) // buffering the guest enabled at initialization
		if _, ok := p.exports["handle_response"]; ok && !f.needs.ResponseBody {
			// An exchange may still enable buffer_response for itself.
			f.needs.StreamResponseBody, f.needs.MaxBody = true, p.opts.MaxBody
		}
	}
	if !p.opts.FailOpen {
		f.failure = filter.Error(http.StatusServiceUnavailable, "plugin "+p.name+" failed")
	}
	return f
}

// Needs declares the bodies the plugin's config asks for.
func (f *Filter) Needs() filter.Needs { return f.needs }

// OnRequest pins an instance to the exchange, creates its stream context
// and runs the request callbacks.
func (f *Filter) OnRequest(x *filter.Exchange) *filter.Response {
	s := streams.Get().(*stream)
	s.f, s.x, s.capture = f, x, f.capture
	x.Set(f, s)
	f.p.stats.exchanges.Add(1)
	if m := f.metrics; m != nil {
		defer recordPhase(&m.request, time.Now(), s)
	}
	in, err := f.p.pool.Acquire(context.Background())
	if err != nil {
		return f.fail(s, "acquire", err)
	}
	s.in = in
	body := x.RequestBody
	eos := len(body) == 0 && (x.Request.Body == nil || x.Request.Body == http.NoBody || f.needs.RequestBody)

	in.mu.Lock()
	in.cur = s
	s.id = in.nextID
	if in.nextID++; in.nextID >= streamIDLimit {
		in.nextID = rootID + 1
	}
	err = in.ensureRoot(f.root) // an instance that joined during a reload (roots.go)
	if err == nil {
		_, err = in.call(proxywasm.OnContextCreate, uint64(s.id), uint64(f.root.id))
	}
	if err == nil {
		s.started = true
		var act uint64
		act, err = in.callAwait(s, proxywasm.OnRequestHeaders, uint64(s.id), uint64(countHeaders(x.Request.Header)+4), b2u(eos))
		if eos { // with a body to come, the body callbacks decide (body.go)
			err = in.pausedAfter(s, act, err)
		}
	}
	if err == nil && s.pw.Local == nil && f.p.opts.RequestBody && !eos {
		var act uint64
		s.pw.Body, s.pw.BodyDir = &filter.Body{Buf: body, End: true}, proxywasm.PhaseRequest
		act, err = in.callAwait(s, proxywasm.OnRequestBody, uint64(s.id), uint64(len(body)), 1)
		err = in.pausedAfter(s, act, err)
		x.RequestBody, s.pw.Body = s.pw.Body.Buf, nil
	}
	if err == nil && f.p.abi == abiHTTPWasm { // the Proxy-Wasm callbacks above are absent: no-ops
		err = in.hwRequest(s)
	}
	in.cur = nil
	in.mu.Unlock()

	if err != nil {
		return f.holdOrFail(s, "request", err)
	}
	if r, ok := f.calloutFailure(s); ok {
		return r
	}
	// A pause was held above until something resumed or answered it.
	if s.pw.Local != nil {
		f.p.stats.localResponses.Add(1)
		return s.pw.Local
	}
	return nil
}

// OnResponse runs the response callbacks, unless the plugin answered
// locally itself or already failed.
func (f *Filter) OnResponse(x *filter.Exchange) *filter.Response {
	s, _ := x.Value(f).(*stream)
	if s == nil || s.failed || !s.started || (s.pw.Local != nil && x.Response == s.pw.Local) {
		return nil
	}
	if m := f.metrics; m != nil {
		defer recordPhase(&m.response, time.Now(), s)
	}
	in := s.in
	resp := x.Response
	s.pw.Phase = proxywasm.PhaseResponse
	eos := len(resp.Body) == 0 && (resp.Local || f.p.opts.ResponseBody || !bodyAllowed(x.Request, resp))
	before := s.pw.Local

	in.mu.Lock()
	in.cur = s
	act, err := in.callAwait(s, proxywasm.OnResponseHeaders, uint64(s.id), uint64(countHeaders(resp.Header)+1), b2u(eos))
	if eos { // with a body to come, the body callbacks decide (body.go)
		err = in.pausedAfter(s, act, err)
	}
	if err == nil && s.pw.Local == before && f.p.opts.ResponseBody && !eos {
		s.pw.Body, s.pw.BodyDir = &filter.Body{Buf: resp.Body, End: true}, proxywasm.PhaseResponse
		act, err = in.callAwait(s, proxywasm.OnResponseBody, uint64(s.id), uint64(len(resp.Body)), 1)
		err = in.pausedAfter(s, act, err)
		resp.Body, s.pw.Body = s.pw.Body.Buf, nil
	}
	if err == nil && f.p.abi == abiHTTPWasm {
		err = in.hwResponse(s, eos || resp.Header.Get("Content-Length") == "0")
	}
	in.cur = nil
	in.mu.Unlock()

	if err != nil {
		return f.holdOrFail(s, "response", err)
	}
	if r, ok := f.calloutFailure(s); ok {
		return r
	}
	if s.pw.Local != before {
		f.p.stats.localResponses.Add(1)
		return s.pw.Local
	}
	return nil
}

// OnDone runs done, log and delete, and unpins the instance.
func (f *Filter) OnDone(x *filter.Exchange) {
	s, _ := x.Value(f).(*stream)
	if s == nil {
		return
	}
	x.Set(f, nil)
	if in := s.in; in != nil {
		if s.started && !s.failed {
			var t0 time.Time
			if f.metrics != nil {
				t0 = time.Now()
			}
			s.pw.Phase = proxywasm.PhaseDone
			in.mu.Lock()
			in.cur = s
			id := uint64(s.id)
			err := in.deliverReady(s) // callouts of a callback that continued (callout.go)
			if err == nil {
				_, err = in.call(proxywasm.OnDone, id)
			}
			if err == nil {
				_, err = in.call(proxywasm.OnLog, id)
			}
			if err == nil {
				_, err = in.call(proxywasm.OnDelete, id)
			}
			in.cur = nil
			in.mu.Unlock()
			if err != nil {
				f.fail(s, "done", err) // the response is gone: only the instance pays
			}
			if f.metrics != nil {
				recordPhase(&f.metrics.done, t0, s) // before s is reset
			}
		}
		f.p.pool.Release(in)
	}
	s.reset()
	streams.Put(s)
}

// fail discards the stream's instance, logs and counts the failure, and
// applies the failure policy.
func (f *Filter) fail(s *stream, phase string, err error) *filter.Response {
	s.failed = true
	p := f.p
	p.stats.failures.Add(1)
	s.kind = failKindError
	switch {
	case errors.Is(err, wasmrt.ErrTimeout):
		p.stats.timeouts.Add(1)
		s.kind = failKindTimeout
	case errors.Is(err, wasmrt.ErrNoInstance):
		p.stats.unavailable.Add(1)
		s.kind = failKindUnavailable
	}
	if s.in != nil {
		p.pool.Discard(s.in)
	}
	if c := s.capture; c != nil {
		c.logs = append(c.logs, LogEntry{Level: "host", Message: phase + ": " + err.Error()})
		if c.err == nil {
			c.err = err
		}
	}
	p.logger.Error("wasm plugin failed", "route", s.x.Route, "phase", phase, "err", err, "policy", policyName(f.failure == nil))
	if f.failure == nil {
		return nil
	}
	r := *f.failure
	r.Header = f.failure.Header.Clone()
	return &r
}

func policyName(open bool) string {
	if open {
		return "fail_open"
	}
	return "fail_closed"
}

func countHeaders(h http.Header) int {
	n := 0
	for _, vv := range h {
		n += len(vv)
	}
	return n
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

var (
	_ filter.Filter         = (*Filter)(nil)
	_ filter.ResponseFilter = (*Filter)(nil)
	_ filter.DoneFilter     = (*Filter)(nil)
	_ filter.BodyFilter     = (*Filter)(nil)
)
