// Package grpcweb translates gRPC-Web calls from browsers into gRPC for
// the route's upstream and its answers back: config key `grpc_web`
// (Envoy's envoy.filters.http.grpc_web, gRPC's PROTOCOL-WEB.md).
//
// A request of content type application/grpc-web, application/grpc-web+proto
// or application/grpc-web-text (base64) goes upstream as application/grpc
// over HTTP/2 with TE: trailers, its -text body decoded as it streams. The
// answer goes back as application/grpc-web+proto (or -text+proto, base64),
// its messages passed on as they arrive and its trailers moved into the
// body as a final frame flagged 0x80; a trailers-only answer keeps its
// status in the headers. Every other request passes untouched.
package grpcweb

import (
	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
)

// Name is the filter's config key. The folder drops the underscore, as Go
// package names do.
const Name = "grpc_web"

func init() {
	filter.Register(Name, func() filter.Config { return new(Config) })
}

// Config is the `grpc_web:` block of a route's filters. Like Envoy's, the
// filter has nothing to tune; the block is `grpc_web: {}`.
type Config struct{}

// Build checks that the route's upstream speaks HTTP/2, which gRPC
// needs: a gRPC server answers HTTP/1.1 with an error, so a route whose
// upstream is http1 could never work.
func (c *Config) Build(bc *filter.BuildContext) (filter.Filter, error) {
	if bc.Config != nil {
		for _, rc := range bc.Config.Routes {
			if rc.Name != bc.Route || rc.Upstream == "" {
				continue
			}
			if u := bc.Config.Upstreams[rc.Upstream]; u != nil && u.Protocol == "http1" {
				return nil, config.FieldErr("", "route %q forwards to upstream %q over HTTP/1.1, and gRPC needs HTTP/2: set protocol: h2c on the upstream (or auto for https targets)", rc.Name, rc.Upstream)
			}
		}
	}
	return &Filter{}, nil
}

// SingularIdentity: two grpc_web filters would translate a call twice.
func (c *Config) SingularIdentity() string { return "" }

var (
	_ filter.Config   = (*Config)(nil)
	_ filter.Singular = (*Config)(nil)
)
