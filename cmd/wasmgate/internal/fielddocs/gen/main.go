// Command gen writes cmd/wasmgate/schemadocs.go; go generate runs it from
// cmd/wasmgate.
package main

import (
	"fmt"
	"os"

	"github.com/wasmgate/wasmgate/cmd/wasmgate/internal/fielddocs"
	_ "github.com/wasmgate/wasmgate/core/portal" // the portal: section
	_ "github.com/wasmgate/wasmgate/filters/all"
)

func main() {
	src, err := fielddocs.Generate("../..")
	if err == nil {
		err = os.WriteFile("schemadocs.go", src, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fielddocs:", err)
		os.Exit(1)
	}
}
