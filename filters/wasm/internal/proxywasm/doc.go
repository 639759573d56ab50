// Package proxywasm is the host of the Proxy-Wasm ABI
// (github.com/proxy-wasm/spec, ABI 0.2.1, as Envoy implements it): the
// ABI's constants and callback names (abi.go), the env host functions
// (Funcs), header maps as the spec serializes them (maps.go), properties
// and route metadata as Envoy encodes them, buffers and the local
// response, the request a callout describes, the shared-data stores and
// the shared queues of a vm id, and an exchange's Proxy-Wasm state
// (Stream).
//
// The seam: a host function reaches the gateway only through Host, which
// filters/wasm implements on its instance (a type conversion, so no
// allocation per call): the running exchange and its Stream, allocation in
// guest memory, the plugin's names, configs and limits, its log, shared
// store and metrics, the callout response being delivered, and the
// gateway's side of what outlives a callback: callout dispatch, context
// switches, ticks, resuming and waking held streams, the drain at close.
// Calling the guest's callbacks, root contexts per configuration, holds,
// callout dispatch and the ticker stay filters/wasm's: they drive the
// pool and the route filter.
package proxywasm
