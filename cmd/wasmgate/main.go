// Command wasmgate is the API gateway: serve a config, validate one, inspect
// plugins, print the version.
package main

import (
	"errors"
	"fmt"
	"os"

	// Built-in filters and config sections register themselves.
	_ "github.com/wasmgate/wasmgate/filters/all"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		if !errors.Is(err, errReported) {
			fmt.Fprintln(os.Stderr, "wasmgate:", err)
		}
		os.Exit(1)
	}
}
