module github.com/wasmgate/wasmgate/sdk

go 1.26
