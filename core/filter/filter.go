// Package filter is the one contract that native filters, the Wasm host and
// the core share: what a filter is, the per-exchange state it works on, and
// the registry through which filter packages plug in by config key.
//
// A route's chain runs its request phase in declared order; any filter may end
// the exchange with a local Response. The response phase runs in reverse
// order over the filters that ran. Done runs last, after the client has the
// response, whatever happened before.
package filter

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/wasmgate/wasmgate/core/config"
)

// Filter is one step of a route's chain, built once from its config at load.
// OnRequest returns nil to continue, or a Response that ends the exchange.
type Filter interface {
	OnRequest(x *Exchange) *Response
}

// ResponseFilter is implemented by filters that act on the response. It sees
// x.Response (status, headers, and Body only if the chain buffers it) and may
// edit it in place, or return a Response that replaces it.
type ResponseFilter interface {
	OnResponse(x *Exchange) *Response
}

// DoneFilter is implemented by filters that need to know the exchange is over
// (access logs, Wasm proxy_on_log and instance release). It runs for every
// filter whose OnRequest ran, in reverse order, after the response is sent.
type DoneFilter interface {
	OnDone(x *Exchange)
}

// BodyFilter is implemented by filters that see bodies: whole (only the
// chains that hold such a filter buffer, and only up to the declared
// limit) or streaming (stream.go).
type BodyFilter interface {
	Needs() Needs
}

// Needs says which bodies a filter must see whole or streaming, and how
// much of a body it may buffer.
type Needs struct {
	RequestBody  bool
	ResponseBody bool
	// StreamRequestBody and StreamResponseBody: the filter implements
	// RequestBodyFilter / ResponseBodyFilter and sees the body chunk by
	// chunk as it passes (stream.go).
	StreamRequestBody  bool
	StreamResponseBody bool
	MaxBody            int64 // bytes; a larger body is refused (413) or fails the filter (502)
}

// Merge combines two filters' needs: the union of bodies, the smaller limit.
func (n Needs) Merge(o Needs) Needs {
	out := Needs{
		RequestBody:        n.RequestBody || o.RequestBody,
		ResponseBody:       n.ResponseBody || o.ResponseBody,
		StreamRequestBody:  n.StreamRequestBody || o.StreamRequestBody,
		StreamResponseBody: n.StreamResponseBody || o.StreamResponseBody,
		MaxBody:            n.MaxBody,
	}
	if out.MaxBody == 0 || (o.MaxBody > 0 && o.MaxBody < out.MaxBody) {
		out.MaxBody = o.MaxBody
	}
	return out
}

// Config is a filter's decoded config block: the config struct is the filter
// definition. It is decoded from YAML (unknown keys rejected), validated if it
// implements Validator, and built once per snapshot.
type Config interface {
	Build(bc *BuildContext) (Filter, error)
}

// Validator is implemented by configs that check themselves after decoding.
// Errors made with config.FieldErr name the offending field relative to the
// filter's block, so the loader can point at its line.
type Validator interface {
	Validate() error
}

// Singular is implemented by configs of which a route should hold at most
// one with the same identity: two cors filters answer a preflight twice,
// two jwt filters demand two tokens, two rate limits on the same key let the
// lower one win. Identity is "" when any two of the kind clash, or what
// tells two apart (a rate limit's key). `wasmgate validate` warns about a
// route that ends up with two, usually one from a chain and one of its own.
type Singular interface {
	SingularIdentity() string
}

// Shareable is implemented by configs whose built filter depends on
// nothing but the config block and the route's path parameter names (not
// the route's name, logger, metrics, kept values or the rest of the
// config), keeps no state that differs between routes, and has nothing to
// close. Routes whose blocks say the same (config.NodeKey) then share one
// built filter, and a reload that leaves a block as it was keeps it: a
// config of 10,000 routes with the same headers filter decodes, validates
// and builds it once. The method does nothing; it marks the type.
type Shareable interface {
	Config
	Shareable()
}

// BuildContext is what a filter may use while it is built.
type BuildContext struct {
	Route       string       // the route the chain belongs to
	RouteParams []string     // the route's path parameter names, for templates
	Logger      *slog.Logger // already tagged with route and filter
	// BaseLogger is the gateway's logger without route tags: for values
	// shared by routes through Keep (a kept value outlives the route that
	// created it), which tag each line with its route themselves.
	BaseLogger *slog.Logger
	// Config is the whole config being built, for filters that use its
	// shared sections (consumers, stores, plugins, upstreams).
	Config *config.Config
	// Keeper holds the values filters keep across snapshots; use Keep,
	// which works without one. It is nil when a filter is built outside a
	// gateway (unit tests).
	Keeper Keeper
	// Meter registers the filter's metrics; use Counter, which works
	// without one. It is nil when metrics are off or the filter is built
	// outside a gateway.
	Meter Meter
	// Upstream returns a Caller for an upstream of the config being built,
	// sharing the routes' targets, health state and pools (nil for a name
	// the config does not define). It is nil when a filter is built outside
	// a gateway (validate, plugin test).
	Upstream func(name string) Caller
	// DryRun is set while a config is only checked (wasmgate validate):
	// build what proves the config valid, but leave no trace (no files
	// created).
	DryRun bool
}

// Caller sends a request to an upstream through the gateway's attempt loop:
// its balancer, health, retries within budget, circuit breaker and attempt
// observer. The caller reads and closes the response body.
type Caller interface {
	Call(ctx context.Context, req *http.Request) (*http.Response, error)
}
