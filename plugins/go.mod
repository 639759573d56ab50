module github.com/wasmgate/wasmgate/plugins

go 1.26

require github.com/wasmgate/wasmgate/sdk v0.0.0

require (
	github.com/tetratelabs/wazero v1.12.0 // indirect
	golang.org/x/sys v0.44.0 // indirect
)

replace github.com/wasmgate/wasmgate/sdk => ../sdk
