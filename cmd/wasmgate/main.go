// Command wasmgate is the API gateway: serve a config, validate one, inspect
// plugins, print the version.
package main

import (
	"errors"
	"fmt"
	"os"

	// Built-in filters register themselves with the filter registry.
	_ "github.com/wasmgate/wasmgate/filters/apikey"
	_ "github.com/wasmgate/wasmgate/filters/basicauth"
	_ "github.com/wasmgate/wasmgate/filters/bodylimit"
	_ "github.com/wasmgate/wasmgate/filters/concurrency"
	_ "github.com/wasmgate/wasmgate/filters/cors"
	_ "github.com/wasmgate/wasmgate/filters/headers"
	_ "github.com/wasmgate/wasmgate/filters/ipfilter"
	_ "github.com/wasmgate/wasmgate/filters/jwt"
	_ "github.com/wasmgate/wasmgate/filters/mtls"
	_ "github.com/wasmgate/wasmgate/filters/observe" // metrics, traces, access log
	_ "github.com/wasmgate/wasmgate/filters/priority"
	_ "github.com/wasmgate/wasmgate/filters/quota"
	_ "github.com/wasmgate/wasmgate/filters/ratelimit"
	_ "github.com/wasmgate/wasmgate/filters/wasm"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		if !errors.Is(err, errReported) {
			fmt.Fprintln(os.Stderr, "wasmgate:", err)
		}
		os.Exit(1)
	}
}
