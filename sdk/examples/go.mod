module github.com/wasmgate/wasmgate/sdk/examples

go 1.26

require (
	github.com/stretchr/testify v1.12.1
	github.com/tidwall/gjson v1.20.4
	github.com/wasmgate/wasmgate/sdk v0.0.0
)

require (
	github.com/tetratelabs/wazero v1.12.0 // indirect
	github.com/tidwall/match v1.1.1 // indirect
	github.com/tidwall/pretty v1.3.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sys v0.44.0 // indirect
)

replace github.com/wasmgate/wasmgate/sdk => ../
