module github.com/wasmgate/wasmgate/test/conformance/guests

go 1.26

require github.com/wasmgate/wasmgate/sdk v0.0.0

replace github.com/wasmgate/wasmgate/sdk => ../../../sdk
