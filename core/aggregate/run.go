package aggregate

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
)

// outcome is how one call ended: its result, shaped for placement, or why
// it failed.
type outcome struct {
	index  int
	result json.RawMessage // after select, before shaping: what {call.field} reads
	placed json.RawMessage // shaped, for as:
	fields []kv            // shaped fields, for merge:
	err    *callError
}

// callError is a failed call: the status a required call's failure gives
// the client, a reason safe to show it, and the cause for logs.
type callError struct {
	status int
	reason string
	cause  error
}

func (e *callError) Error() string {
	if e.cause != nil {
		return e.reason + ": " + e.cause.Error()
	}
	return e.reason
}

// Run makes the calls for x and returns the merged response, or the error
// of the first required call that failed. It returns nil when the client
// went away. Calls start as soon as every call they wait for succeeded;
// the first required failure cancels the calls still running, and Run
// returns once they have stopped: none outlives it to read x, which the
// gateway reuses for its next request.
func (p *Plan) Run(x *filter.Exchange) *filter.Response {
	parent := x.Request.Context()
	var ctx context.Context
	var cancel context.CancelFunc
	if p.timeout > 0 {
		ctx, cancel = context.WithTimeout(parent, p.timeout)
	} else {
		ctx, cancel = context.WithCancel(parent)
	}
	defer cancel()

	n := len(p.calls)
	outcomes := make([]outcome, n)
	results := make([]json.RawMessage, n)
	waiting := make([]int, n)
	failed := make([]bool, n)
	done := make(chan outcome, n)
	running := 0          // calls sent that have not reported on done
	var settled []outcome // calls that failed before they could start
	abandon := func() {
		cancel()
		for ; running > 0; running-- {
			<-done
		}
	}

	start := func(c *call) {
		req, cerr := c.request(ctx, x, results)
		if cerr != nil {
			settled = append(settled, outcome{index: c.index, err: cerr})
			return
		}
		running++
		go func() { done <- p.do(ctx, x, c, req) }()
	}
	for _, c := range p.calls {
		waiting[c.index] = len(c.after)
		if len(c.after) == 0 {
			start(c)
		}
	}
	for finished := 0; finished < n; finished++ {
		var o outcome
		if k := len(settled); k > 0 {
			o, settled = settled[k-1], settled[:k-1]
		} else {
			o = <-done
			running--
		}
		c := p.calls[o.index]
		outcomes[o.index] = o
		if o.err != nil {
			if parent.Err() != nil {
				abandon()
				return nil // the client left; nobody to answer
			}
			if c.required {
				abandon()
				x.Err = errors.New("aggregate call " + c.name + ": " + o.err.Error())
				return filter.Error(o.err.status, "call "+c.name+": "+o.err.reason)
			}
			failed[o.index] = true
		} else {
			results[o.index] = o.result
		}
		for _, d := range c.dependents {
			if waiting[d]--; waiting[d] > 0 {
				continue
			}
			dc := p.calls[d]
			if i := slices.IndexFunc(dc.after, func(j int) bool { return failed[j] }); i >= 0 {
				reason := "not made: call " + p.calls[dc.after[i]].name + " it waits for failed"
				settled = append(settled, outcome{index: d, err: &callError{status: http.StatusBadGateway, reason: reason}})
				continue
			}
			start(dc)
		}
	}
	return p.merge(outcomes)
}

// request renders c's backend request from the exchange and earlier results.
func (c *call) request(ctx context.Context, x *filter.Exchange, results []json.RawMessage) (*http.Request, *callError) {
	target, err := c.path.render(x, results)
	if err != nil {
		return nil, renderFailure(err)
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, &callError{status: http.StatusBadGateway, reason: "the path " + strconv.Quote(target) + " is not a valid request path", cause: err}
	}
	h := make(http.Header, len(c.headers)+len(c.pass)+2)
	h["Accept"] = []string{"application/json"}
	h["User-Agent"] = []string{"wasmgate"}
	for _, name := range c.pass {
		if vs := x.Request.Header[name]; len(vs) > 0 {
			h[name] = slices.Clone(vs)
		}
	}
	for _, hd := range c.headers {
		v, err := hd.value.render(x, results)
		if err != nil {
			return nil, renderFailure(err)
		}
		h[hd.name] = []string{v}
	}
	req := &http.Request{
		Method:     c.method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Body:       http.NoBody,
	}
	return req.WithContext(ctx), nil
}

func renderFailure(err error) *callError {
	status := http.StatusBadGateway
	var re *renderError
	if errors.As(err, &re) && re.client {
		status = http.StatusBadRequest
	}
	return &callError{status: status, reason: err.Error()}
}

// do sends one call and reads, checks and shapes its result. It runs on its
// own goroutine and touches nothing of the exchange.
func (p *Plan) do(ctx context.Context, x *filter.Exchange, c *call, req *http.Request) outcome {
	o := outcome{index: c.index}
	cctx := ctx
	if c.timeout > 0 {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
		req = req.WithContext(cctx)
	}
	resp, err := c.caller.Do(cctx, x, req)
	if err != nil {
		o.err = p.failure(ctx, cctx, c, "upstream "+c.upstream+" could not be reached", err)
		return o
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// A required call's 404 is the client's: what the response is built
		// around does not exist. Any other status is the backend's fault.
		status := http.StatusBadGateway
		if resp.StatusCode == http.StatusNotFound {
			status = http.StatusNotFound
		}
		o.err = &callError{status: status, reason: "upstream " + c.upstream + " answered " + strconv.Itoa(resp.StatusCode)}
		return o
	}
	if resp.ContentLength > p.maxBody {
		o.err = p.tooLarge(c)
		return o
	}
	body, err := readBody(resp, p.maxBody)
	if err != nil {
		o.err = p.failure(ctx, cctx, c, "the body of upstream "+c.upstream+" could not be read", err)
		return o
	}
	if int64(len(body)) > p.maxBody {
		o.err = p.tooLarge(c)
		return o
	}
	o.result, o.placed, o.fields, err = c.shapeResult(body)
	if err != nil {
		o.err = &callError{status: http.StatusBadGateway, reason: err.Error()}
	}
	return o
}

// shapeResult checks a body is JSON, selects, filters, renames, and
// prepares it for its placement.
func (c *call) shapeResult(body []byte) (result, placed json.RawMessage, fs []kv, err error) {
	doc, err := checkJSON(body)
	if err != nil {
		return nil, nil, nil, err
	}
	result = doc
	if c.sel != nil {
		if result, err = walk(doc, c.sel); err != nil {
			return nil, nil, nil, errors.New("select: " + err.Error())
		}
	}
	placed = result
	if c.shape.active() {
		if placed, err = c.shape.apply(result); err != nil {
			return nil, nil, nil, err
		}
	}
	if c.merge {
		if kind(placed) != '{' {
			return nil, nil, nil, errors.New("merge: true needs a JSON object; the result is " + describe(placed))
		}
		if fs, err = fields(placed); err != nil {
			return nil, nil, nil, err
		}
		placed = nil
	}
	return result, placed, fs, nil
}

func describe(v json.RawMessage) string {
	switch kind(v) {
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

func (p *Plan) tooLarge(c *call) *callError {
	return &callError{status: http.StatusBadGateway, reason: "the body of upstream " + c.upstream + " exceeds " + strconv.FormatInt(p.maxBody, 10) + " bytes (aggregate.max_body)"}
}

// failure classifies a transport or body-read error: the call's own
// timeout or the aggregate's (504), or anything else (502).
func (p *Plan) failure(ctx, cctx context.Context, c *call, reason string, err error) *callError {
	switch {
	case ctx.Err() != nil && errors.Is(context.Cause(ctx), context.DeadlineExceeded):
		return &callError{status: http.StatusGatewayTimeout, reason: "the aggregate timed out after " + p.timeout.String() + " (the route's timeout)", cause: err}
	case ctx.Err() != nil:
		return &callError{status: http.StatusBadGateway, reason: "cancelled", cause: err}
	case cctx.Err() != nil:
		return &callError{status: http.StatusGatewayTimeout, reason: "timed out after " + c.timeout.String(), cause: err}
	}
	var te interface{ Timeout() bool } // net.Error, proxy.Error
	if errors.As(err, &te) && te.Timeout() {
		return &callError{status: http.StatusGatewayTimeout, reason: "upstream " + c.upstream + " timed out", cause: err}
	}
	return &callError{status: http.StatusBadGateway, reason: reason, cause: err}
}

// readBody reads at most limit+1 bytes, sized up front when the length is
// known.
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	size := int64(512)
	if resp.ContentLength >= 0 {
		size = resp.ContentLength + 1 // +1: ReadAll wants room to see EOF
	}
	buf := make([]byte, 0, min(size, limit+1))
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := resp.Body.Read(buf[len(buf):min(int64(cap(buf)), limit+1)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
		if int64(len(buf)) > limit {
			return buf, nil
		}
	}
}

// merge places every successful call's result, in declared order, and
// names the optional calls left out.
func (p *Plan) merge(outcomes []outcome) *filter.Response {
	root := &object{}
	var partial []string
	for _, c := range p.calls {
		o := &outcomes[c.index]
		if o.err != nil {
			partial = append(partial, c.name)
			continue
		}
		root.place(c, o)
	}
	if partial != nil {
		list := []byte{'['}
		for i, name := range partial {
			if i > 0 {
				list = append(list, ',')
			}
			list = appendString(list, name)
		}
		root.set(config.PartialKey, append(list, ']'))
	}
	size := root.size()
	if int64(size) > p.maxBody {
		return filter.Error(http.StatusBadGateway, "the merged response exceeds "+strconv.FormatInt(p.maxBody, 10)+" bytes (aggregate.max_body)")
	}
	body := root.appendTo(make([]byte, 0, size+1))
	body = append(body, '\n')
	h := http.Header{
		"Content-Type":   {"application/json"},
		"Content-Length": {strconv.Itoa(len(body))},
	}
	if partial != nil {
		h[PartialHeader] = []string{joinNames(partial)}
	}
	return &filter.Response{Status: http.StatusOK, Header: h, Body: body}
}

func joinNames(names []string) string {
	n := 0
	for _, s := range names {
		n += len(s) + 1
	}
	b := make([]byte, 0, n)
	for i, s := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, s...)
	}
	return string(b)
}
