package wasm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/wasmgate/wasmgate/core/filter"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/proxywasm"
)

// Streaming bodies and held streams, as Envoy's Proxy-Wasm host runs them
// (envoy source/extensions/common/wasm/context.cc: decodeData/encodeData,
// convertFilterDataStatus; proxy-wasm-cpp-host src/context.cc).
//
// A module that exports proxy_on_request_body / proxy_on_response_body
// gets the body chunk by chunk through the chain's streaming contract
// (core/filter/stream.go), with no config key: body_size is what the host
// holds for it (the chunks it buffered and the one that arrived) and
// end_of_stream says whether more follows. What it returns decides:
//
//	0 Continue                    forward what it holds
//	1 StopIterationAndBuffer      keep it; called again with more, and
//	2 StopIterationAndWatermark   at the end of stream with the whole body
//	3 StopIterationNoBuffer       hold the stream until it is resumed
//	1-3 at end of stream          hold the stream until it is resumed
//
// `bodies:` in the plugin's config is a hint: the route then buffers that
// body before the request phase and the guest gets it in one call, whole.
// limits.max_body bounds what the host buffers for the guest: a request
// body over it is refused with 413, a response body fails with 502
// (the plugin's failure policy does not apply: the body, not the plugin,
// is at fault).
//
// Any callback may pause the stream. A pause in the headers of a request
// or response that has a body is resolved by the body, as in Envoy's
// filter chain: a body callback that returns Continue (or none exported)
// goes on with the headers; a pause in headers that end the stream, or in
// a body callback at its end, holds the stream. It is then held, not
// answered, until proxy_continue_stream (or
// proxy_continue_request/response, or proxy_send_local_response) is called
// for it from any context of its instance: a later callback, a tick, a
// queue callback, a callout response, another stream's callback, after
// proxy_set_effective_context(its id). Context ids are per instance, as
// Envoy's are per worker VM: every instance that holds a stream gets the
// plugin's ticks. A stream held longer than limits.hold (default 30s) gets
// the failure policy, logged and counted in wasmgate_wasm_hold_timeouts_total.

const defaultHoldTimeout = 30 * time.Second

// Body callback returns beyond Continue (proxy-wasm FilterDataStatus).
const (
	dataStopAndBuffer    = 1
	dataStopAndWatermark = 2
	dataStopNoBuffer     = 3
)

var errHoldTimeout = errors.New("the stream was paused and not resumed within limits.hold")

var holdTimeoutsMetric = filter.Metric{Name: "wasmgate.wasm.hold_timeouts", Unit: "{stream}",
	Help: "Streams a Wasm plugin paused and did not resume within limits.hold, by plugin."}

// bodyState is a stream's hold (the body being delivered is its
// proxywasm.Stream's).
type bodyState struct {
	wake  chan struct{}
	held  bool
	edits bool // the body was edited by proxy_set_buffer_bytes in this callback
}

// heldStreams are an instance's held streams by context id, so that any
// of its contexts can resume one (proxy_set_effective_context). Guarded by
// the instance's mu; n is read without it by the ticker.
type heldStreams struct {
	byID map[uint32]*stream
	n    atomic.Int32
}

// streamsBody reports which bodies the filter streams: those whose
// callbacks the module exports and that `bodies:` does not already buffer.
func (p *Plugin) streamsBody() (request, response bool) {
	if p.abi == abiHTTPWasm {
		return false, false
	}
	_, rq := p.exports["proxy_on_request_body"]
	_, rs := p.exports["proxy_on_response_body"]
	return rq && !p.opts.RequestBody, rs && !p.opts.ResponseBody
}

// OnRequestBody passes one chunk of the request body to the guest.
func (f *Filter) OnRequestBody(x *filter.Exchange, b *filter.Body) (filter.BodyAction, *filter.Response) {
	return f.onBody(x, b, proxywasm.PhaseRequest)
}

// OnResponseBody passes one chunk of the response body to the guest.
func (f *Filter) OnResponseBody(x *filter.Exchange, b *filter.Body) (filter.BodyAction, *filter.Response) {
	return f.onBody(x, b, proxywasm.PhaseResponse)
}

func (f *Filter) onBody(x *filter.Exchange, b *filter.Body, dir proxywasm.Phase) (filter.BodyAction, *filter.Response) {
	s, _ := x.Value(f).(*stream)
	if s == nil || s.failed || !s.started || s.pw.Local != nil {
		return filter.BodyContinue, nil // failed open, or answered already
	}
	if f.p.abi == abiHTTPWasm {
		return f.hwOnResponseBody(s, b) // http-wasm streams only responses
	}
	cb, name := callback(proxywasm.OnRequestBody), "request body"
	if dir == proxywasm.PhaseResponse {
		cb, name = proxywasm.OnResponseBody, "response body"
	}
	in := s.in
	in.mu.Lock()
	in.cur = s
	s.pw.Body, s.pw.BodyDir = b, dir
	act, err := in.callAwait(s, cb, uint64(s.id), uint64(len(b.Buf)), b2u(b.End))
	if err == nil && s.pw.Local == nil && !s.host.policy && !s.host.resumed &&
		(act == dataStopNoBuffer || (act != proxywasm.ActionContinue && b.End)) {
		err = in.hold(s)
	}
	s.pw.Body = nil
	in.cur = nil
	in.mu.Unlock()

	if err != nil {
		return filter.BodyContinue, f.holdOrFail(s, name, err)
	}
	if r, ok := f.calloutFailure(s); ok {
		return filter.BodyContinue, r
	}
	if s.pw.Local != nil {
		f.p.stats.localResponses.Add(1)
		return filter.BodyContinue, s.pw.Local
	}
	if act != proxywasm.ActionContinue && !b.End && !s.host.resumed {
		return filter.BodyBuffer, nil
	}
	return filter.BodyContinue, nil
}

// pausedAfter holds s when the callback that just ran returned pause and
// nothing resumed or answered it meanwhile. Callers hold in.mu with
// in.cur == s.
func (in *instance) pausedAfter(s *stream, act uint64, err error) error {
	if err != nil || act == proxywasm.ActionContinue || s.pw.Local != nil || s.host.policy || s.host.resumed {
		return err
	}
	return in.hold(s)
}

// hold waits, with the instance unlocked, until s is resumed or answered
// from any context, delivering the callouts it has in flight meanwhile.
// Callers hold in.mu with in.cur == s; so do they on return.
func (in *instance) hold(s *stream) error {
	if s.body.wake == nil {
		s.body.wake = make(chan struct{}, 1)
	}
	select { // a wake-up left from an earlier hold of this stream
	case <-s.body.wake:
	default:
	}
	if in.held.byID == nil {
		in.held.byID = make(map[uint32]*stream)
	}
	in.held.byID[s.id] = s
	in.held.n.Add(1)
	s.body.held = true
	defer func() {
		delete(in.held.byID, s.id)
		in.held.n.Add(-1)
		s.body.held = false
	}()
	d := in.p.opts.HoldTimeout
	if s.f.holdFor > 0 {
		d = s.f.holdFor
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	gone := s.x.Request.Context().Done()
	for !s.host.resumed && s.pw.Local == nil {
		in.cur = nil
		in.mu.Unlock()
		var c *callout
		var err error
		select {
		case c = <-s.host.ready: // nil channel without callouts: never ready
		case <-s.body.wake:
		case <-timer.C:
			err = errHoldTimeout
		case <-gone:
			err = context.Canceled
		}
		in.mu.Lock()
		in.cur = s
		if err != nil {
			return err
		}
		if c := s.capture; c != nil && (s.host.resumed || s.pw.Local != nil) {
			c.paused[min(int(s.pw.Phase), 1)] = "" // resumed after all
		}
		if c != nil {
			for i, pc := range s.host.pending {
				if pc == c {
					s.host.pending = append(s.host.pending[:i], s.host.pending[i+1:]...)
					break
				}
			}
			if c.err != nil {
				in.p.logger.Warn("wasm callout failed", "route", s.x.Route, "err", c.err)
			}
			if err := in.deliver(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// resume marks s resumed and wakes it if it is held. Callers hold in.mu.
func (s *stream) resume() {
	s.host.resumed = true
	s.wakeUp()
}

// wakeUp lets a held stream look again at why it waits.
func (s *stream) wakeUp() {
	if s.body.held {
		select {
		case s.body.wake <- struct{}{}:
		default:
		}
	}
}

// heldStream is the held stream with context id, if any. Callers hold in.mu.
func (in *instance) heldStream(id uint32) *stream { return in.held.byID[id] }

// holdOrFail applies the failure policy to a stream whose callback failed
// (fail) or whose hold ran out (the instance is fine: it is kept).
func (f *Filter) holdOrFail(s *stream, phase string, err error) *filter.Response {
	switch {
	case errors.Is(err, errHoldTimeout) && s.capture != nil:
		// Plugin.Exchange reports a pause nothing resumed (Outcome.PausedIn)
		// and goes on, so the rest of the exchange still shows.
		return nil
	case errors.Is(err, errHoldTimeout):
	case errors.Is(err, context.Canceled):
		s.failed = true // the client left: nothing to answer
		return nil
	default:
		return f.fail(s, phase, err)
	}
	s.failed = true
	p := f.p
	p.stats.failures.Add(1)
	p.stats.timeouts.Add(1)
	s.kind = failKindTimeout
	f.holdTimeouts.Inc()
	err = fmt.Errorf("%s: %w (%s)", phase, err, p.opts.HoldTimeout)
	if c := s.capture; c != nil {
		c.logs = append(c.logs, LogEntry{Level: "host", Message: "hold: " + err.Error()})
		if c.err == nil {
			c.err = err
		}
	}
	p.logger.Error("wasm plugin held a stream too long", "route", s.x.Route, "phase", phase, "err", err, "policy", policyName(f.failure == nil))
	if f.failure == nil {
		return nil
	}
	r := *f.failure
	r.Header = f.failure.Header.Clone()
	return &r
}

var (
	_ filter.RequestBodyFilter  = (*Filter)(nil)
	_ filter.ResponseBodyFilter = (*Filter)(nil)
)

// bodyAllowed reports whether a response may carry a body, so whether
// its headers are the end of the stream.
func bodyAllowed(r *http.Request, resp *filter.Response) bool {
	if r.Method == http.MethodHead || resp.Status < 200 || resp.Status == http.StatusNoContent || resp.Status == http.StatusNotModified {
		return false
	}
	return len(resp.Header["Content-Length"]) == 0 || resp.Header["Content-Length"][0] != "0"
}

// holding returns the live instances other than except that hold streams.
func (p *Plugin) holding(except *instance) []*instance {
	var out []*instance
	for _, in := range p.pool.Live() {
		if in != except && in.held.n.Load() > 0 && !in.Broken() {
			out = append(out, in)
		}
	}
	return out
}
