package gateway

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/router"
)

// Route re-selection (docs/rationale.md, "Route re-selection"). A filter
// that changes what the route was chosen by marks the exchange's route
// stale (filter.Exchange.ClearRouteCache); right after that filter the
// route is chosen again from the request as it now is, through the same
// canonicalization and checks as the request as received. If the same
// route wins, its chain goes on with the next filter. If another route
// wins, the request is that route's from then on: the rest of the first
// chain is skipped, the new route's whole chain runs, then its target with
// its own settings (upstream, rewrite, timeouts, retries, body limit). So a
// request reaches a route's target only after passing that route's whole
// chain, whatever a filter of another route did to it, and no filter runs
// on a request that belongs to another route than its own. The response
// and done phases then run over every filter that ran, the last chain
// first.

// maxRouteChanges bounds how often one request may move to another route,
// so filters that send it back and forth end in an error, not a loop.
const maxRouteChanges = 4

// chainRun is one chain's request phase: the route and how many of its
// filters ran (the response and done phases cover exactly those).
type chainRun struct {
	route *Route
	ran   int
}

// chainRuns records the chains an exchange ran through, first to last, in
// a fixed array: the common case is one, and it costs no allocation.
type chainRuns struct {
	n   int
	run [maxRouteChanges + 1]chainRun
}

// requestPhase runs route's chain and, while a filter marks the route stale
// and another route wins, that route's chain. It returns the route whose
// target applies and the local response that ends the exchange, if any.
func (g *Gateway) requestPhase(s *Snapshot, w http.ResponseWriter, x *filter.Exchange, route *Route, runs *chainRuns) (*Route, *filter.Response) {
	runs.run[runs.n] = chainRun{route, 0}
	runs.n++
	for {
		cur := &runs.run[runs.n-1]
		ran, local := route.chain.RequestFrom(x, cur.ran)
		cur.ran = ran
		if local != nil {
			if ran <= len(route.filters) {
				x.Answered(route.filters[ran-1], local)
			}
			return route, local
		}
		if !x.TakeRouteStale() {
			return route, nil // the chain ran to its end
		}
		next, resp := s.reselect(x)
		if resp != nil {
			return route, resp
		}
		if next == route {
			continue // the same route: its chain goes on after the filter
		}
		if runs.n == len(runs.run) {
			g.logger.Warn("request moved between routes too often; check the filters that change its host, path, method or routing headers",
				"route", route.Name, "next", next.Name, "limit", maxRouteChanges)
			return route, filter.Error(http.StatusInternalServerError, "the request changed route more than "+strconv.Itoa(maxRouteChanges)+" times")
		}
		g.logger.Debug("route re-selected", "from", route.Name, "to", next.Name)
		route = next
		x.Route, x.RouteIndex = route.Name, route.index
		x.SetRouteConfig(route.spec)
		runs.run[runs.n] = chainRun{route, 0}
		runs.n++
		if resp := route.limitBody(w, x.Request, x); resp != nil {
			return route, resp
		}
	}
}

// reselect chooses the route again for the request as filters left it. The
// path is canonicalized again, so a filter cannot send upstream (or route
// by) a path that the gateway would have refused or normalized from a
// client; the host and query get the same checks as the client's.
func (s *Snapshot) reselect(x *filter.Exchange) (*Route, *filter.Response) {
	r := x.Request
	if !validMethod(r.Method, s.lowercaseMethods) {
		return nil, filter.Error(http.StatusBadRequest, "invalid request method after filters: a method is an uppercase token such as GET or DELETE")
	}
	path, err := router.Canonicalize(r.URL.EscapedPath(), s.mergeSlashes)
	if err != nil {
		return nil, filter.Error(http.StatusBadRequest, "invalid request path after filters: "+reasonOf(err))
	}
	if tooManyParams(r.URL.RawQuery) {
		return nil, filter.Error(http.StatusBadRequest, "more than "+strconv.Itoa(maxQueryParams)+" query parameters")
	}
	host, ok := hostOf(r)
	if !ok {
		return nil, filter.Error(http.StatusBadRequest, "invalid host after filters")
	}
	if s.versions != nil {
		// A version segment a filter put (back) in front of the path is
		// read again; without one the request keeps the version it had.
		if v, rest := s.versions.read(r, path); rest != path || s.versions.by != config.VersionByPath {
			x.APIVersion, path = v, rest
		}
	}
	setPath(r, path)
	route, res, allow := s.table.Match(r, router.Facts{Scheme: x.Scheme, Version: x.APIVersion}, host, path, &x.Params)
	switch res {
	case router.NotFound:
		x.Route, x.RouteIndex = "", 0
		x.SetRouteConfig(nil)
		return nil, filter.Error(http.StatusNotFound, "no route matches "+r.Method+" "+path)
	case router.MethodNotAllowed:
		x.Route, x.RouteIndex = "", 0
		x.SetRouteConfig(nil)
		resp := filter.Error(http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed here")
		resp.Header["Allow"] = []string{strings.Join(allow, ", ")}
		return nil, resp
	}
	return route, nil
}

// response runs the response phase over every chain that ran, last first.
func (c *chainRuns) response(x *filter.Exchange) {
	for i := c.n - 1; i >= 0; i-- {
		c.run[i].route.chain.Response(x, c.run[i].ran)
	}
}

// done runs the done phase over every chain that ran, last first.
func (c *chainRuns) done(x *filter.Exchange) {
	for i := c.n - 1; i >= 0; i-- {
		c.run[i].route.chain.Done(x, c.run[i].ran)
	}
}
