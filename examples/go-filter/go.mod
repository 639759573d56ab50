module github.com/wasmgate/wasmgate/examples/go-filter

go 1.26

require github.com/wasmgate/wasmgate/sdk v0.0.0

require (
	github.com/tetratelabs/wazero v1.12.0 // indirect
	golang.org/x/sys v0.44.0 // indirect
)

// The SDK is not on the Go module proxy: it comes from a checkout (here, this
// repository's). In your own module, point the replace at yours, then `go mod tidy`.
replace github.com/wasmgate/wasmgate/sdk => ../../sdk
