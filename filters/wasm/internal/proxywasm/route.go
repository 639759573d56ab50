package proxywasm

import (
	"context"
	"strings"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/core/filter"
)

// Route re-selection. Envoy clears its route cache whenever a Wasm filter
// edits the request headers (context.cc: add, replace, remove and set-pairs
// on the request map) or calls proxy_clear_route_cache, and chooses the
// route again before forwarding. We tell the exchange the same, narrowed to
// the edits that can change the choice: the pseudo-headers (:authority,
// :path, :method) and the headers some route matcher reads; the gateway
// then re-matches when the chain's request phase ends (core/gateway,
// reroute.go). The narrowing is invisible to a filter, since re-matching on
// unchanged inputs picks the same route, and keeps a filter that sets
// other headers at the cost of a flag check.

// RequestEdited records that the guest edited request header key (any
// case; ":"-prefixed for a pseudo-header) of x. http-wasm's host follows
// the same rule.
func RequestEdited(x *filter.Exchange, key string) {
	if x == nil {
		return
	}
	if strings.HasPrefix(key, ":") {
		x.ClearRouteCache()
		return
	}
	x.RequestHeaderEdited(key)
}

// edited is RequestEdited for a map of the Proxy-Wasm host: only request
// headers route.
func (m headerMap) edited(key string) {
	if m.request {
		RequestEdited(m.e.x, key)
	}
}

// hostClearRouteCache is proxy_clear_route_cache: the current stream's
// route is chosen again before forwarding. Outside a stream (the root
// context) there is no route, and Envoy answers OK there too.
func hostClearRouteCache(_ context.Context, h Host, _ api.Memory, _ []uint64) Status {
	if x, st := h.Current(); st != nil && x != nil && st.Phase == PhaseRequest {
		x.ClearRouteCache()
	}
	return StatusOK
}
