package wasm

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/router"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/proxywasm"
)

// Run is one exchange to put through a plugin outside a route.
type Run struct {
	Request  *http.Request    // required; edited in place as the upstream would see it
	Body     []byte           // the request body, if any
	Response *filter.Response // the upstream's response (default 200, no headers, empty body)
	Route    string           // the wasmgate.route property
	Params   router.Params    // the wasmgate.route_params property
	Consumer *filter.Consumer // the wasmgate.consumer property
	// RouteConfig is the route as config declares it: route_metadata,
	// cluster_name (its upstream). Optional.
	RouteConfig *config.Route
}

// Outcome is what a plugin did to one exchange.
type Outcome struct {
	Request  *http.Request    // the request after the request phase
	Body     []byte           // the request body after the request phase
	Local    *filter.Response // the plugin's local response, or the failure policy's 503
	Response *filter.Response // the response after the response phase (nil if Local)
	Logs     []LogEntry       // what the guest logged, and host failures
	Failed   error            // the trap, deadline or host error, if the plugin failed
	// PausedIn names the callback that paused the exchange and was never
	// resumed (no proxy_continue_stream, no local response): "" if none.
	PausedIn string
}

// Exchange runs one exchange through the plugin, as a route with only this
// filter would: request callbacks, then (unless the plugin answered
// locally) the response callbacks on in.Response, then done, log, delete.
func (p *Plugin) Exchange(ctx context.Context, run Run) (*Outcome, error) {
	if run.Request == nil {
		return nil, errors.New("wasm: Run.Request is required")
	}
	f := p.NewFilter()
	f.capture = &capture{}
	// A pause is held as a route holds it (a tick or a callout may resume
	// it), but not for long: what nothing resumed is reported (PausedIn).
	f.holdFor = min(p.opts.HoldTimeout, exchangeHold)
	x := &filter.Exchange{
		Request:     run.Request,
		Route:       run.Route,
		Params:      run.Params,
		Consumer:    run.Consumer,
		Start:       time.Now(),
		RequestBody: run.Body,
	}
	x.SetRouteConfig(run.RouteConfig)
	if ap, err := netip.ParseAddrPort(run.Request.RemoteAddr); err == nil {
		x.ClientIP = ap.Addr().Unmap()
	}
	if run.Body != nil {
		run.Request.Body = io.NopCloser(bytes.NewReader(run.Body))
		run.Request.ContentLength = int64(len(run.Body))
	}
	out := &Outcome{Request: run.Request}
	// The body streams through the filter as a route's chain streams it
	// (body.go), here in one chunk.
	chain := filter.NewChain([]filter.Filter{f})
	local := f.OnRequest(x)
	if local == nil && len(run.Body) > 0 && chain.StreamsRequestBody(1) {
		_, local = chain.StreamRequest(x, 1)
	}
	if local != nil {
		x.Response = local
	} else {
		resp := run.Response
		if resp == nil {
			resp = &filter.Response{Status: http.StatusOK, Header: http.Header{}, Body: []byte{}}
		}
		if resp.Body == nil {
			resp.Body = []byte{}
		}
		x.Response = resp
		if r := f.OnResponse(x); r != nil {
			x.Response = r
		} else if len(resp.Body) > 0 && chain.StreamsResponseBody(1) {
			if _, r := chain.StreamResponse(x, resp, bytes.NewReader(resp.Body), int64(len(resp.Body)), 1); r != nil {
				x.Response = r
			}
		}
	}
	f.OnDone(x)
	out.Logs, out.Failed = f.capture.logs, f.capture.err
	out.PausedIn = f.capture.paused[0]
	if out.PausedIn == "" {
		out.PausedIn = f.capture.paused[1]
	}
	out.Body = x.RequestBody
	if x.Response.Local {
		out.Local = x.Response
	} else {
		out.Response = x.Response
	}
	return out, nil
}

// exchangeHold bounds how long Exchange holds a paused stream.
const exchangeHold = time.Second

// capture collects what one exchange's guest logged, its failure, and a
// pause nothing resumed.
type capture struct {
	logs   []LogEntry
	err    error
	paused [2]string // the callback that left the request [0] or response [1] paused
}

// notePause records how a callback left its direction of the exchange:
// paused with nothing to resume it, or going on (which resumes an earlier
// pause of the same direction, as a body callback returning Continue does).
func (c *capture) notePause(cb callback, paused bool) {
	dir := 1
	if cb == proxywasm.OnRequestHeaders || cb == proxywasm.OnRequestBody {
		dir = 0
	}
	c.paused[dir] = ""
	if paused {
		c.paused[dir] = callbackNames[cb]
	}
}
