module github.com/wasmgate/wasmgate/examples/go-sdk

go 1.26

require github.com/wasmgate/wasmgate/sdk v0.0.0

// Inside the wasmgate repository the SDK comes from the checkout.
replace github.com/wasmgate/wasmgate/sdk => ../../sdk
