//go:build wasip1

package vmstate

import "github.com/wasmgate/wasmgate/sdk/proxywasm/types"

// The Proxy-Wasm 0.2.1 callbacks. The allocator export lives in package abi.

//go:wasmexport proxy_abi_version_0_2_1
func proxyABIVersion021() {}

//go:wasmexport proxy_on_context_create
func proxyOnContextCreate(id, parent uint32) { OnContextCreate(id, parent) }

//go:wasmexport proxy_on_vm_start
func proxyOnVMStart(root, size uint32) uint32 { return b2u(OnVMStart(root, int(size))) }

//go:wasmexport proxy_on_configure
func proxyOnConfigure(root, size uint32) uint32 { return b2u(OnConfigure(root, int(size))) }

//go:wasmexport proxy_on_request_headers
func proxyOnRequestHeaders(id, n, eos uint32) uint32 {
	return uint32(OnRequestHeaders(id, int(n), eos != 0))
}

//go:wasmexport proxy_on_request_body
func proxyOnRequestBody(id, size, eos uint32) uint32 {
	return uint32(OnRequestBody(id, int(size), eos != 0))
}

//go:wasmexport proxy_on_request_trailers
func proxyOnRequestTrailers(id, n uint32) uint32 { return uint32(OnRequestTrailers(id, int(n))) }

//go:wasmexport proxy_on_response_headers
func proxyOnResponseHeaders(id, n, eos uint32) uint32 {
	return uint32(OnResponseHeaders(id, int(n), eos != 0))
}

//go:wasmexport proxy_on_response_body
func proxyOnResponseBody(id, size, eos uint32) uint32 {
	return uint32(OnResponseBody(id, int(size), eos != 0))
}

//go:wasmexport proxy_on_response_trailers
func proxyOnResponseTrailers(id, n uint32) uint32 { return uint32(OnResponseTrailers(id, int(n))) }

//go:wasmexport proxy_on_new_connection
func proxyOnNewConnection(id uint32) uint32 { return uint32(OnNewConnection(id)) }

//go:wasmexport proxy_on_downstream_data
func proxyOnDownstreamData(id, size, eos uint32) uint32 {
	return uint32(OnDownstreamData(id, int(size), eos != 0))
}

//go:wasmexport proxy_on_downstream_connection_close
func proxyOnDownstreamConnectionClose(id, peer uint32) { OnDownstreamClose(id, types.PeerType(peer)) }

//go:wasmexport proxy_on_upstream_data
func proxyOnUpstreamData(id, size, eos uint32) uint32 {
	return uint32(OnUpstreamData(id, int(size), eos != 0))
}

//go:wasmexport proxy_on_upstream_connection_close
func proxyOnUpstreamConnectionClose(id, peer uint32) { OnUpstreamClose(id, types.PeerType(peer)) }

//go:wasmexport proxy_on_done
func proxyOnDone(id uint32) uint32 { return b2u(OnDone(id)) }

//go:wasmexport proxy_on_log
func proxyOnLog(id uint32) { OnLog(id) }

//go:wasmexport proxy_on_delete
func proxyOnDelete(id uint32) { OnDelete(id) }

//go:wasmexport proxy_on_tick
func proxyOnTick(root uint32) { OnTick(root) }

//go:wasmexport proxy_on_queue_ready
func proxyOnQueueReady(root, queueID uint32) { OnQueueReady(root, queueID) }

//go:wasmexport proxy_on_http_call_response
func proxyOnHttpCallResponse(root, calloutID, numHeaders, bodySize, numTrailers uint32) {
	OnHttpCallResponse(root, calloutID, int(numHeaders), int(bodySize), int(numTrailers))
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}
