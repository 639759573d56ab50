// Package all links every built-in filter and config section into a
// program: import it for its side effects, as cmd/wasmgate and the test
// harnesses do,
//
//	import _ "github.com/wasmgate/wasmgate/filters/all"
//
// Each package registers itself from init() (filters with core/filter,
// sections and consumer credentials with core/config), so this list is the
// one place that says what a wasmgate binary is built with. A build that
// wants fewer imports the packages it wants instead; a config naming a
// filter or section that is not linked in is refused with the list of
// those that are.
package all

import (
	_ "github.com/wasmgate/wasmgate/filters/apikey"
	_ "github.com/wasmgate/wasmgate/filters/basicauth"
	_ "github.com/wasmgate/wasmgate/filters/bodylimit"
	_ "github.com/wasmgate/wasmgate/filters/cache"
	_ "github.com/wasmgate/wasmgate/filters/compress"
	_ "github.com/wasmgate/wasmgate/filters/concurrency"
	_ "github.com/wasmgate/wasmgate/filters/cors"
	_ "github.com/wasmgate/wasmgate/filters/grpcweb"
	_ "github.com/wasmgate/wasmgate/filters/headers"
	_ "github.com/wasmgate/wasmgate/filters/internal/stores" // the stores: section
	_ "github.com/wasmgate/wasmgate/filters/ipfilter"
	_ "github.com/wasmgate/wasmgate/filters/jwt"
	_ "github.com/wasmgate/wasmgate/filters/mtls"
	_ "github.com/wasmgate/wasmgate/filters/openapi"
	_ "github.com/wasmgate/wasmgate/filters/priority"
	_ "github.com/wasmgate/wasmgate/filters/quota"
	_ "github.com/wasmgate/wasmgate/filters/ratelimit"
	_ "github.com/wasmgate/wasmgate/filters/requesttermination"
	_ "github.com/wasmgate/wasmgate/filters/wasm" // and the plugins: section
	_ "github.com/wasmgate/wasmgate/observe"      // metrics, traces, access log
)
