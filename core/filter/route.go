package filter

import (
	"strings"

	"github.com/wasmgate/wasmgate/core/config"
)

// Route re-selection, as Envoy's clearRouteCache: a filter that changes what
// the route was chosen by (the host, the path, the method, a header a route
// matcher reads) marks the route stale; the chain stops right after that
// filter and the gateway chooses the route again (core/gateway/reroute.go)
// before any other filter runs and before anything is forwarded. Marking
// costs a store; a filter that touches none of those inputs leaves the
// exchange as it was, and costs the chain one flag check.

// RoutingHeaders lists the request header names that some route matcher of
// the current config reads. The gateway builds it once per snapshot; it is
// short (the distinct names of header matchers), so a scan with EqualFold
// beats a map that would need the name lowercased or canonicalized first.
type RoutingHeaders []string

// Reads reports whether a route matcher reads the header name (any case).
func (h RoutingHeaders) Reads(name string) bool {
	for _, n := range h {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// ClearRouteCache marks the route stale: it is chosen again before the
// request is forwarded. Filters call it after editing the request in a way
// that may change its route (the Wasm host does for proxy_clear_route_cache
// and for every edit of :authority, :path or :method).
func (x *Exchange) ClearRouteCache() { x.routeStale = true }

// RequestHeaderEdited tells the exchange a filter set, added or removed the
// request header name (any case). If a route matcher reads that header the
// route is marked stale; other names cost a scan of a few names and change
// nothing.
func (x *Exchange) RequestHeaderEdited(name string) {
	if !x.routeStale && x.routingHeaders.Reads(name) {
		x.routeStale = true
	}
}

// SetRouting tells the exchange which headers route matchers read. The
// gateway calls it once per exchange, before the chain runs.
func (x *Exchange) SetRouting(h RoutingHeaders) { x.routingHeaders = h }

// TakeRouteStale reports whether the route was marked stale since the last
// call, and clears the mark.
func (x *Exchange) TakeRouteStale() bool {
	stale := x.routeStale
	x.routeStale = false
	return stale
}

// RouteStale reports whether the route is marked stale, without clearing it.
func (x *Exchange) RouteStale() bool { return x.routeStale }

// RouteConfig is the chosen route's config (its name, target, metadata),
// for filters that report on the route actually used, which re-selection
// may have changed since the filter was built. It is nil before a route is
// chosen and after re-selection found none.
func (x *Exchange) RouteConfig() *config.Route { return x.routeConfig }

// SetRouteConfig records the chosen route's config. The gateway calls it
// whenever it chooses a route.
func (x *Exchange) SetRouteConfig(rc *config.Route) { x.routeConfig = rc }
