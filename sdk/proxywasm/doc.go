// Package proxywasm is the API of wasmgate's Go SDK for Proxy-Wasm filters.
//
// It mirrors the upstream proxy-wasm Go SDK (SetVMContext, the contexts in
// package types, GetHttpRequestHeader, SendHttpResponse, LogInfof, ...), so a
// filter written for it ports by changing import paths, and a filter built
// with it loads in Envoy as well as in wasmgate.
//
// Build a filter with the standard toolchain:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags='-s -w' -o filter.wasm .
//
// Register the filter from an init function (a c-shared module never runs
// main):
//
//	func main() {}
//	func init() { proxywasm.SetVMContext(&vm{}) }
//
// Rules the host imposes: call these functions only from inside a callback
// and on its goroutine (never from a goroutine you started), and never block
// in a callback. Header and body functions act on the stream whose callback
// is running. Test filters natively with package proxytest.
package proxywasm
