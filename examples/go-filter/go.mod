module github.com/wasmgate/wasmgate/examples/go-filter

go 1.26

require github.com/wasmgate/wasmgate/sdk v0.0.0

// Inside the wasmgate repository the SDK comes from the checkout; in your own
// module, drop this line and `go get github.com/wasmgate/wasmgate/sdk`.
replace github.com/wasmgate/wasmgate/sdk => ../../sdk
