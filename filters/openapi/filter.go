package openapi

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
)

// Filter validates requests (and, in report mode, responses) against one
// compiled document.
type Filter struct {
	name        string
	report      bool
	parts       what
	responses   bool
	maxBody     int64
	maxProblems int
	logger      *slog.Logger
	route       string
	meter       func(m filter.Metric, labels ...filter.Label) *filter.Counter

	// fixed is the spec of a file; remote, of a URL (its current spec).
	fixed  *spec
	remote *remoteSpec

	mu  sync.Mutex // rebuilding cur
	cur atomic.Pointer[view]
}

// view is a spec with the counters of its operations.
type view struct {
	spec       *spec
	ops        map[*operation]*opCounters
	notFound   *filter.Counter
	notAllowed *filter.Counter
}

type opCounters struct {
	valid, invalid, unsupported, notAcceptable, skipped *filter.Counter
	respValid, respInvalid                              *filter.Counter
}

var validationsMetric = filter.Metric{
	Name: "wasmgate.openapi.validations",
	Unit: "{request}",
	Help: "Requests (and, with responses: true, responses) an openapi filter checked, by route, operation and result: valid, invalid (400, or logged in report mode), unsupported_media_type (415), not_acceptable (406), skipped (an operation left out by operations:), not_found (no operation has the path; operation is empty), method_not_allowed (405; operation is empty), response_valid, response_invalid.",
}

// Build loads and compiles the document.
func (c *Config) Build(bc *filter.BuildContext) (filter.Filter, error) {
	f := &Filter{
		name:        c.Name,
		report:      c.Mode == "report",
		parts:       c.Parts.what(),
		responses:   c.Responses,
		maxBody:     int64(c.MaxBody),
		maxProblems: c.MaxProblems,
		logger:      bc.Logger,
		route:       bc.Route,
	}
	// Counters for the operations of a refreshed document are made after
	// the build: keep the meter (safe in any goroutine), not bc.
	meter := bc.Meter
	f.meter = func(m filter.Metric, labels ...filter.Label) *filter.Counter {
		if meter == nil {
			return new(filter.Counter)
		}
		return meter.Counter(m, labels...)
	}
	if f.logger == nil {
		f.logger = slog.New(slog.DiscardHandler)
	}
	if f.maxBody == 0 {
		f.maxBody = DefaultMaxBody
	}
	if f.maxProblems == 0 {
		f.maxProblems = DefaultMaxProblems
	}
	if c.Spec != "" {
		data, err := readFile(c.Spec)
		if err != nil {
			return nil, config.FieldErr("spec", "%v", err)
		}
		sp, err := compileSpec(c.Spec, data, c.options())
		if err != nil {
			return nil, config.FieldErr("spec", "%v", err)
		}
		f.fixed = sp
	} else {
		refresh, timeout := c.Refresh.D(), c.Timeout.D()
		if refresh == 0 {
			refresh = DefaultRefresh
		}
		if timeout == 0 {
			timeout = DefaultTimeout
		}
		opts, _ := json.Marshal(c.options())
		logger := bc.BaseLogger
		if logger == nil {
			logger = f.logger
		}
		key := remoteKey{url: c.SpecURL, refresh: refresh, timeout: timeout, opts: string(opts)}
		create := func() (io.Closer, error) {
			// Checking a config (validate) proves the document reads and
			// compiles, and starts nothing.
			return newRemoteSpec(c.SpecURL, refresh, timeout, c.options(), logger, !bc.DryRun)
		}
		var v io.Closer
		var err error
		if bc.DryRun {
			v, err = create()
		} else {
			v, err = bc.Keep(key, create)
		}
		if err != nil {
			return nil, config.FieldErr("spec_url", "%v", err)
		}
		f.remote = v.(*remoteSpec)
	}
	if f.name == "" {
		f.name = f.spec().title
	}
	f.load()
	return f, nil
}

func readFile(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the OpenAPI document: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxDocument+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read the OpenAPI document: %w", err)
	}
	if len(data) > maxDocument {
		return nil, fmt.Errorf("%s: larger than %d MiB", path, maxDocument>>20)
	}
	return data, nil
}

func (f *Filter) spec() *spec {
	if f.fixed != nil {
		return f.fixed
	}
	return f.remote.current.Load()
}

// load returns the view of the current spec, building it (counters for its
// operations) the first time a refreshed document is seen.
func (f *Filter) load() *view {
	sp := f.spec()
	if v := f.cur.Load(); v != nil && v.spec == sp {
		return v
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if v := f.cur.Load(); v != nil && v.spec == sp {
		return v
	}
	lbl := func(op, result string) *filter.Counter {
		return f.meter(validationsMetric, filter.Label{Key: "route", Value: f.route}, filter.Label{Key: "operation", Value: op}, filter.Label{Key: "result", Value: result})
	}
	v := &view{spec: sp, ops: make(map[*operation]*opCounters, len(sp.ops)),
		notFound: lbl("", "not_found"), notAllowed: lbl("", "method_not_allowed")}
	for _, op := range sp.ops {
		v.ops[op] = &opCounters{
			valid: lbl(op.id, "valid"), invalid: lbl(op.id, "invalid"),
			unsupported: lbl(op.id, "unsupported_media_type"), notAcceptable: lbl(op.id, "not_acceptable"),
			skipped: lbl(op.id, "skipped"),
		}
		if f.responses {
			v.ops[op].respValid, v.ops[op].respInvalid = lbl(op.id, "response_valid"), lbl(op.id, "response_invalid")
		}
	}
	f.cur.Store(v)
	return v
}

// Needs asks for the request body whole, up to max_body, and the response
// body when responses are validated.
func (f *Filter) Needs() filter.Needs {
	return filter.Needs{RequestBody: f.parts.body, ResponseBody: f.responses, MaxBody: f.maxBody}
}

type opKey struct{}

var problemPool = sync.Pool{New: func() any { return new(problems) }}

// OnRequest finds the operation and checks the request against it.
func (f *Filter) OnRequest(x *filter.Exchange) *filter.Response {
	v := f.load()
	r := x.Request
	var caps captures
	pe := v.spec.match(r.URL.Path, &caps)
	if pe == nil {
		v.notFound.Inc()
		return f.refuse(http.StatusNotFound, "no operation of the API has the path "+quoteCapped(r.URL.Path, 256), "", nil)
	}
	op := pe.ops[r.Method]
	if op == nil {
		v.notAllowed.Inc()
		resp := f.refuse(http.StatusMethodNotAllowed, "the API has no "+quoteCapped(r.Method, 32)+" operation on "+pe.template, "", nil)
		if resp != nil {
			resp.Header.Set("Allow", pe.allow)
		}
		return resp
	}
	oc := v.ops[op]
	if !op.enforced {
		oc.skipped.Inc()
		return nil
	}
	if f.responses {
		x.Set(opKey{}, op)
	}
	if !acceptable(op, r.Header.Get("Accept")) {
		oc.notAcceptable.Inc()
		return f.refuse(http.StatusNotAcceptable, "the operation "+op.id+" answers none of the media types Accept names", op.id, nil)
	}
	ps := problemPool.Get().(*problems)
	defer problemPool.Put(ps)
	ps.reset(f.maxProblems)
	checkParams(op, r, &caps, f.parts, ps)
	if f.parts.body && op.body != nil {
		if len(x.RequestBody) == 0 {
			if op.body.required {
				ps.add("/body", "a request body is required")
			}
		} else {
			if ce, ok := encoded(r.Header); ok {
				// Its bytes are not what the schema describes: checking
				// them raw would pass what it does not see. The compress
				// filter's decompress_requests, before this one, decodes.
				oc.unsupported.Inc()
				resp := f.refuse(http.StatusUnsupportedMediaType, "the operation "+op.id+" takes a body only without Content-Encoding, not "+quoteCapped(ce, 64), op.id, nil)
				if resp != nil {
					resp.Header.Set("Accept-Encoding", "identity")
				}
				return resp
			}
			// One Content-Type, one media type: with two, or a list, the
			// upstream may read a type other than the one checked.
			if cts := r.Header["Content-Type"]; len(cts) > 1 {
				oc.unsupported.Inc()
				return f.refuse(http.StatusUnsupportedMediaType, "the request has more than one Content-Type", op.id, nil)
			}
			mt := mediaType(r.Header.Get("Content-Type"))
			if mt != "" && !validMediaType(mt) {
				oc.unsupported.Inc()
				return f.refuse(http.StatusUnsupportedMediaType, "the Content-Type "+quoteCapped(mt, 128)+" is not a media type", op.id, nil)
			}
			m := pick(op.body.content, mt)
			if m == nil {
				oc.unsupported.Inc()
				return f.refuse(http.StatusUnsupportedMediaType, "the operation "+op.id+" does not take a body of type "+quoteCapped(mt, 128), op.id, nil)
			}
			// A wildcard's schema applies to a JSON body it takes in.
			if m.schema != nil && (m.json || strings.HasSuffix(m.typ, "/*") && isJSON(mt)) {
				validateJSON(m.schema, x.RequestBody, "/body", true, ps)
			}
		}
	}
	if ps.empty() {
		oc.valid.Inc()
		return nil
	}
	oc.invalid.Inc()
	return f.refuse(http.StatusBadRequest, "", op.id, ps)
}

// encoded returns a request's Content-Encoding when it names a coding
// other than identity.
func encoded(h http.Header) (string, bool) {
	for _, v := range h["Content-Encoding"] {
		for _, c := range strings.Split(v, ",") {
			if c = strings.TrimSpace(c); c != "" && !strings.EqualFold(c, "identity") {
				return strings.Join(h["Content-Encoding"], ", "), true
			}
		}
	}
	return "", false
}

// refuse answers status in enforce mode; in report mode it logs and lets
// the request through.
func (f *Filter) refuse(status int, reason, op string, ps *problems) *filter.Response {
	if f.report {
		msg := reason
		if ps != nil {
			msg = ps.summary()
		}
		f.logger.Warn("openapi: the request does not match the API description (report mode: let through)", "api", f.name, "operation", op, "status", status, "problems", msg)
		return nil
	}
	if ps == nil {
		return filter.Error(status, reason)
	}
	body := ps.body(status, op)
	return &filter.Response{
		Status: status,
		Header: http.Header{
			"Content-Type":           {"application/json"},
			"Content-Length":         {strconv.Itoa(len(body))},
			"X-Content-Type-Options": {"nosniff"},
		},
		Body:  body,
		Local: true,
	}
}

// OnResponse validates the upstream's response (report mode, responses:
// true): its status must be documented, and a JSON body match its schema.
func (f *Filter) OnResponse(x *filter.Exchange) *filter.Response {
	if !f.responses || x.Response == nil || x.Response.Local {
		return nil
	}
	op, _ := x.Value(opKey{}).(*operation)
	if op == nil {
		return nil
	}
	v := f.load()
	oc := v.ops[op]
	if oc == nil || oc.respValid == nil {
		return nil
	}
	ps := problemPool.Get().(*problems)
	defer problemPool.Put(ps)
	ps.reset(f.maxProblems)
	status := strconv.Itoa(x.Response.Status)
	resp := op.resp[status]
	if resp == nil {
		resp = op.resp[status[:1]+"XX"]
	}
	if resp == nil {
		resp = op.resp["DEFAULT"]
	}
	switch {
	case resp == nil:
		ps.add("/response/status", "status "+status+" is not documented")
	case len(resp.content) > 0 && len(x.Response.Body) > 0:
		if _, enc := encoded(x.Response.Header); enc {
			break // compressed: its bytes are not the JSON to check
		}
		mt := mediaType(x.Response.Header.Get("Content-Type"))
		m := pick(resp.content, mt)
		if m == nil {
			ps.add("/response/content-type", strconv.Quote(mt)+" is not documented for status "+status)
		} else if m.json && m.schema != nil {
			validateJSON(m.schema, x.Response.Body, "/response/body", false, ps)
		}
	}
	if ps.empty() {
		oc.respValid.Inc()
		return nil
	}
	oc.respInvalid.Inc()
	f.logger.Warn("openapi: the response does not match the API description", "api", f.name, "operation", op.id, "status", x.Response.Status, "problems", ps.summary())
	return nil
}

// PublishedAPI publishes the document to the portal (the latest version
// of a URL-served one).
func (f *Filter) PublishedAPI() filter.PublishedAPI {
	return filter.PublishedAPI{Name: f.name, Document: f.spec().json}
}

var (
	_ filter.Filter         = (*Filter)(nil)
	_ filter.ResponseFilter = (*Filter)(nil)
	_ filter.BodyFilter     = (*Filter)(nil)
	_ filter.Publisher      = (*Filter)(nil)
)
