package wasm

import (
	"context"
	"strings"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/proxywasm"
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

// requestEdited records that the guest edited request header key (any
// case; ":"-prefixed for a pseudo-header).
func requestEdited(s *stream, key string) {
	if s == nil || s.x == nil {
		return
	}
	if strings.HasPrefix(key, ":") {
		s.x.ClearRouteCache()
		return
	}
	s.x.RequestHeaderEdited(key)
}

// edited is requestEdited for a map of the Proxy-Wasm host: only request
// headers route.
func (m headerMap) edited(key string) {
	if m.request {
		requestEdited(m.s, key)
	}
}

// hostClearRouteCache is proxy_clear_route_cache: the current stream's
// route is chosen again before forwarding. Outside a stream (the root
// context) there is no route, and Envoy answers OK there too.
func hostClearRouteCache(_ context.Context, in *instance, _ api.Memory, _ []uint64) proxywasm.Status {
	if s := in.cur; s != nil && s.x != nil && s.pw.Phase == proxywasm.PhaseRequest {
		s.x.ClearRouteCache()
	}
	return proxywasm.StatusOK
}
