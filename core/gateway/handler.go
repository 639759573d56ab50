package gateway

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/proxy"
	"github.com/wasmgate/wasmgate/core/router"
	"github.com/wasmgate/wasmgate/core/server"
)

var exchanges = sync.Pool{New: func() any { return &filter.Exchange{Params: make(router.Params, 0, 4)} }}

// ServeHTTP is the request path, top to bottom: snapshot, admission (the
// request as received judged and cleaned), canonical path, route, the
// chain's request phase, the target, the chain's response phase, the
// response, done.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The CA's HTTP-01 requests are answered before any route or filter:
	// they are the gateway's own business.
	if r.TLS == nil && g.acme != nil && g.acme.HandleHTTPChallenge(w, r) {
		return
	}
	s := g.acquire()
	defer s.release()

	x := exchanges.Get().(*filter.Exchange)
	defer func() {
		x.Reset()
		exchanges.Put(x)
	}()
	x.Start = time.Now()
	x.Request = r
	info := server.ListenerFrom(r.Context())
	// What the client sent is judged and cleaned before anything reads or
	// sets a header: its hop-by-hop fields go before the request ID is
	// taken, so "Connection: X-Request-Id" cannot remove the one we set.
	refused := s.admit(r, info)
	var trusted bool
	x.ClientIP, trusted = info.Client(r)
	if s.requestID != nil {
		s.requestID.apply(w, r, x)
	}
	if obs := s.observer; obs != nil {
		obs.Begin(x)
		defer obs.End(x) // before the exchange is reset: deferred after it
	}
	if refused != nil {
		g.writeLocal(s, w, r, x, refused)
		return
	}

	path, err := router.Canonicalize(r.URL.EscapedPath(), s.mergeSlashes)
	if err != nil {
		g.writeLocal(s, w, r, x, filter.Error(http.StatusBadRequest, "invalid request path: "+reasonOf(err)))
		return
	}
	if tooManyParams(r.URL.RawQuery) {
		g.writeLocal(s, w, r, x, filter.Error(http.StatusBadRequest, "more than "+strconv.Itoa(maxQueryParams)+" query parameters"))
		return
	}
	host, ok := hostOf(r)
	if !ok {
		g.writeLocal(s, w, r, x, filter.Error(http.StatusBadRequest, "invalid host"))
		return
	}
	x.Scheme = schemeOf(r, trusted)
	// The portal answers on its listener before routing, so no route
	// (and no version prefix) can shadow it (portal.go).
	if p := s.portal; p != nil && info != nil && info.Name == p.Listener() && p.Match(path) {
		g.writeLocal(s, w, r, x, p.Serve(r, path))
		return
	}
	if s.versions != nil {
		x.APIVersion, path = s.versions.read(r, path)
	}
	setPath(r, path)

	route, res, allow := s.table.Match(r, router.Facts{Scheme: x.Scheme, Version: x.APIVersion}, host, path, &x.Params)
	switch res {
	case router.NotFound:
		g.writeLocal(s, w, r, x, filter.Error(http.StatusNotFound, "no route matches "+r.Method+" "+path))
		return
	case router.MethodNotAllowed:
		resp := filter.Error(http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed here")
		resp.Header["Allow"] = []string{strings.Join(allow, ", ")}
		if isPreflight(r) {
			g.preflight(s, w, r, x, route, resp)
			return
		}
		g.writeLocal(s, w, r, x, resp)
		return
	}
	x.Route, x.RouteIndex = route.Name, route.index
	if route.stats != nil {
		defer route.stats.record(x) // runs before the exchange is reset
	}
	x.SetRouting(s.table.HeaderNames())
	x.SetRouteConfig(route.spec)
	if route.deprecation != nil {
		if resp := route.deprecation.retired(x); resp != nil {
			g.writeLocal(s, w, r, x, resp)
			return
		}
	}

	if resp := route.limitBody(w, r, x); resp != nil {
		g.writeLocal(s, w, r, x, resp)
		return
	}

	// The request phase may move the request to another route (reroute.go).
	var runs chainRuns
	route, local := g.requestPhase(s, w, x, route, &runs)
	var upstreamResp *http.Response
	// The body streams through the filters of the route that serves the
	// request (the last chain that ran), as the rest of the request does.
	ran := runs.run[runs.n-1].ran
	var reqStream *filter.BodyStream
	if local == nil {
		reqStream, local = route.streamRequest(x, ran)
	}
	if local != nil {
		x.Response = local
		if reqStream != nil && reqStream.Local == local {
			x.Answered(route.rejectedBy(reqStream.LocalBy), local) // requestPhase named the others
		}
	} else if upstreamResp = g.target(w, route, x, trusted); reqStream != nil && reqStream.Local != nil {
		// A filter answered while the body streamed upstream: its answer,
		// not what the aborted upstream exchange left.
		if upstreamResp != nil {
			upstreamResp.Body.Close()
			upstreamResp = nil
		}
		x.Response = reqStream.Local
		x.Answered(route.rejectedBy(reqStream.LocalBy), reqStream.Local)
	} else if x.Response == nil {
		// The client went away before there was anything to answer. Abort
		// rather than return: returning would let net/http answer an empty
		// 200 on the client's behalf, were it still there after all.
		x.Status = proxy.StatusClientClosed
		runs.done(x)
		panic(http.ErrAbortHandler)
	}
	runs.response(x)
	if route.deprecation != nil {
		route.deprecation.served(x)
	}
	upstreamResp = route.streamResponse(x, r, upstreamResp, ran)
	s.hygiene.apply(x.Response)
	werr := route.proxy.WriteResponse(w, r, x, upstreamResp)
	if werr != nil {
		x.Err = werr
	}
	runs.done(x)
	if werr != nil && werr.Aborted {
		// The response started and broke: abort so the client sees it broken
		// rather than a short body that looks complete.
		panic(http.ErrAbortHandler)
	}
}

// target produces x.Response from the route's target and returns the
// upstream response whose body is still to stream, if any. x.Response stays
// nil only when the client is gone.
func (g *Gateway) target(w http.ResponseWriter, route *Route, x *filter.Exchange, trusted bool) *http.Response {
	r := x.Request
	if route.respond != nil {
		x.Response = route.respond.render(x)
		return nil
	}
	if route.fanout != nil {
		x.Response = route.fanout.Run(x) // nil: the client left
		return nil
	}
	if route.rewrite != nil {
		setPath(r, route.rewrite.Apply(r.URL.EscapedPath(), x.Params))
	}
	up := route.upstream
	if route.split != nil {
		up = route.split.pick(x)
	}
	if route.mirror != nil {
		route.mirror.send(x, trusted)
	}
	resp, perr := route.proxy.RoundTrip(w, x, up, trusted)
	if perr != nil {
		if perr.Kind != proxy.KindClientGone {
			x.Response = perr.Response()
		}
		if perr.Kind == proxy.KindClientBody && r.ProtoMajor == 1 {
			// The rest of the body is not wanted: without this net/http
			// reads up to 256 KiB more of it before writing the answer.
			x.Response.Header.Set("Connection", "close")
		}
		g.logger.Debug("upstream exchange failed", "route", route.Name, "upstream", up.Name, "err", perr)
		return nil
	}
	x.Response = &filter.Response{Status: resp.StatusCode, Header: resp.Header, Trailer: &resp.Trailer}
	if needs := route.chain.Needs(); needs.ResponseBody {
		if err := bufferResponse(x.Response, resp, needs.MaxBody); err != nil {
			x.Response = filter.Error(http.StatusBadGateway, err.Error())
		}
		return nil
	}
	return resp
}

// limitBody enforces the route's request body cap, and buffers the body when
// a filter of the chain must see it whole.
func (rt *Route) limitBody(w http.ResponseWriter, r *http.Request, x *filter.Exchange) *filter.Response {
	limit := rt.maxBody
	needs := rt.chain.Needs()
	if needs.RequestBody && needs.MaxBody > 0 && needs.MaxBody < limit {
		limit = needs.MaxBody
	}
	if r.ContentLength > limit {
		return filter.Error(http.StatusRequestEntityTooLarge, "request body exceeds "+strconv.FormatInt(limit, 10)+" bytes")
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if !needs.RequestBody {
		return nil
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return filter.Error(http.StatusRequestEntityTooLarge, "request body exceeds "+strconv.FormatInt(limit, 10)+" bytes")
		}
		return filter.Error(http.StatusBadRequest, "request body could not be read")
	}
	x.RequestBody = body
	r.Body = io.NopCloser(bytes.NewReader(body))
	return nil
}

func bufferResponse(out *filter.Response, resp *http.Response, limit int64) error {
	defer resp.Body.Close()
	if limit <= 0 {
		limit = 16 << 20
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return errors.New("upstream response body could not be read")
	}
	if int64(len(body)) > limit {
		return errors.New("upstream response body exceeds the " + strconv.FormatInt(limit, 10) + " bytes a filter may buffer")
	}
	out.Body = body
	return nil
}

// preflight lets the route that serves this path, though not with the
// method asked, answer a CORS preflight (which asks about another method)
// through its filters, as a cors filter does; if none answers, it is the
// 405 notAllowed.
func (g *Gateway) preflight(s *Snapshot, w http.ResponseWriter, r *http.Request, x *filter.Exchange, route *Route, notAllowed *filter.Response) {
	x.Params = x.Params[:0] // not captured for a route that missed
	x.Route, x.RouteIndex = route.Name, route.index
	if route.stats != nil {
		defer route.stats.record(x) // runs before the exchange is reset
	}
	ran, local := route.chain.Request(x)
	x.Response = notAllowed
	if local != nil {
		x.Response = local
	}
	route.chain.Response(x, ran)
	s.hygiene.apply(x.Response)
	route.proxy.WriteResponse(w, r, x, nil)
	route.chain.Done(x, ran)
}

// isPreflight reports a CORS preflight request (Fetch standard, CORS protocol).
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// admit judges and cleans the request as the client sent it, once, before
// routing and before any filter: its method and the count of its header
// lines, then its header names (checkHeaders) and its hop-by-hop fields. A
// non-nil response refuses the request.
func (s *Snapshot) admit(r *http.Request, info *server.Info) *filter.Response {
	if !validMethod(r.Method, s.lowercaseMethods) {
		return filter.Error(http.StatusBadRequest, "invalid request method: a method is an uppercase token such as GET or DELETE")
	}
	limit := 0
	if info != nil {
		limit = info.MaxHeaderCount
	}
	if resp := s.checkHeaders(r, limit); resp != nil {
		return resp
	}
	proxy.StripHopByHop(r.Header)
	return nil
}

// validMethod reports whether m is an RFC 9110 token and, unless lower is
// set, has no lowercase letter. net/http checks HTTP/1.x request lines for
// tokens but not an h2 :method; neither checks case. Routes match methods
// exactly while many upstreams fold case, so "delete" would miss a route
// guarding DELETE and be deleted all the same: nginx refuses it, and so do we.
func validMethod(m string, lower bool) bool {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete,
		http.MethodHead, http.MethodOptions, http.MethodPatch:
		return true
	}
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		switch {
		case 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case 'a' <= c && c <= 'z':
			if !lower {
				return false
			}
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) < 0:
			return false
		}
	}
	return true
}

// checkHeaders cleans the client's header names in one pass, and counts the
// header field lines it sent against limit (0: none): net/http bounds only
// their bytes, and a few tens of thousands of short lines fit in those,
// each one costing every filter that walks the headers and the upstream.
// Names with "_" are ambiguous with "-" behind CGI-style upstreams (a
// spoofing vector), so by default they are dropped, as nginx does.
// X-Consumer-* is identity the gateway asserts after authentication: a
// client never gets to send it, on any route, with or without an auth filter.
func (s *Snapshot) checkHeaders(r *http.Request, limit int) *filter.Response {
	lines := 0
	for name, vv := range r.Header {
		lines += len(vv)
		if len(name) > len(consumerPrefix) && strings.EqualFold(name[:len(consumerPrefix)], consumerPrefix) {
			delete(r.Header, name)
			continue
		}
		if s.underscoreHeaders == "allow" || strings.IndexByte(name, '_') < 0 {
			continue
		}
		if s.underscoreHeaders == "reject" {
			return filter.Error(http.StatusBadRequest, "header names with underscores are not accepted: "+name)
		}
		delete(r.Header, name)
	}
	if limit > 0 && lines > limit {
		return filter.Error(http.StatusRequestHeaderFieldsTooLarge, "more than "+strconv.Itoa(limit)+" request header fields")
	}
	return nil
}

const consumerPrefix = "X-Consumer-"

// maxQueryParams is net/url's limit (its urlmaxqueryparams default): past it
// url.ParseQuery returns no values at all. A query matcher would then see no
// parameter where an upstream with another parser sees them all (a route
// with `absent: true` would match a request that has the parameter), so such
// a request is refused before routing.
const maxQueryParams = 10000

func tooManyParams(rawQuery string) bool {
	// Each parameter past the first needs a '&': shorter queries cannot
	// exceed the limit, and the count is skipped for them.
	return len(rawQuery) >= maxQueryParams && strings.Count(rawQuery, "&")+1 > maxQueryParams
}

// setPath sets the request path from its canonical escaped form.
func setPath(r *http.Request, escaped string) {
	if p, err := pathUnescape(escaped); err == nil {
		r.URL.Path = p
		if p == escaped {
			r.URL.RawPath = ""
		} else {
			r.URL.RawPath = escaped
		}
	}
}

func pathUnescape(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 {
		return s, nil
	}
	return url.PathUnescape(s)
}

// schemeOf is the scheme the client used: https over TLS; behind a trusted
// proxy, what that proxy reports in X-Forwarded-Proto (its last element, the
// nearest proxy's view, for a proxy that appends); http otherwise. A client
// that is not a trusted proxy cannot claim https.
func schemeOf(r *http.Request, trusted bool) string {
	if r.TLS != nil {
		return "https"
	}
	if trusted {
		if v := r.Header["X-Forwarded-Proto"]; len(v) > 0 {
			last := v[len(v)-1]
			if k := strings.LastIndexByte(last, ','); k >= 0 {
				last = last[k+1:]
			}
			if strings.EqualFold(textproto.TrimString(last), "https") {
				return "https"
			}
		}
	}
	return "http"
}

// hostOf is the request's host as routes match it: lowercased, without a
// port, brackets or one trailing dot ("admin.internal." is the absolute
// form of "admin.internal", and resolves to the same server, so it must
// meet the same route). A host with an empty label ("a..b", ".a") is not
// a name any route could mean: ok is false, and the request is refused
// rather than left to a catch-all, as nginx does.
func hostOf(r *http.Request) (host string, ok bool) {
	h := r.Host
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		h = h[:i]
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	h = strings.TrimSuffix(h, ".")
	if strings.HasPrefix(h, ".") || strings.HasSuffix(h, ".") || strings.Contains(h, "..") {
		return "", false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(h), true
		}
	}
	return h, true
}

// writeLocal answers before any route applies (bad path, no route).
func (g *Gateway) writeLocal(s *Snapshot, w http.ResponseWriter, r *http.Request, x *filter.Exchange, resp *filter.Response) {
	s.hygiene.apply(resp)
	x.Response = resp
	g.local.WriteResponse(w, r, x, nil)
}

func reasonOf(err error) string {
	var pe *router.PathError
	if errors.As(err, &pe) {
		return pe.Reason
	}
	return "malformed path"
}

// responseHygiene is what every response loses or gets on its way out,
// whoever made it (upstream, filter, gateway): the fields in hide (say
// X-Powered-By, which advertises an upstream's software and version) and,
// if set, our own Server field in place of the upstream's. Keys are
// canonical at load, so applying it allocates nothing.
type responseHygiene struct {
	hide   []string
	server []string // nil: leave Server as it is
}

func newResponseHygiene(c config.Server) responseHygiene {
	var h responseHygiene
	for _, name := range c.HideResponseHeaders {
		h.hide = append(h.hide, textproto.CanonicalMIMEHeaderKey(name))
	}
	if c.ServerHeader != "" {
		h.server = []string{c.ServerHeader}
	}
	return h
}

func (h *responseHygiene) apply(resp *filter.Response) {
	if resp == nil || (h.hide == nil && h.server == nil) {
		return
	}
	if resp.Header == nil {
		resp.Header = http.Header{}
	}
	for _, k := range h.hide {
		delete(resp.Header, k)
	}
	if h.server != nil {
		resp.Header["Server"] = h.server
	}
}
