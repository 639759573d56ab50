package wasm

// Proxy-Wasm 0.2.1 constants (github.com/proxy-wasm/spec, abi-versions/v0.2.1).

// status is what every host function returns.
type status = uint32

const (
	statusOK                  status = 0
	statusNotFound            status = 1
	statusBadArgument         status = 2
	statusSerializationFail   status = 3
	statusInvalidMemoryAccess status = 6
	statusEmpty               status = 7
	statusCasMismatch         status = 8
	statusInternalFailure     status = 10
	statusUnimplemented       status = 12
)

// Actions returned by the stream callbacks. Any non-zero value other than
// pause is treated as pause, as Envoy-derived SDKs return extra values.
const (
	actionContinue = 0
	actionPause    = 1
)

// Buffer types.
const (
	bufferRequestBody  = 0
	bufferResponseBody = 1
	bufferCallResponse = 4 // the body of the callout response being delivered
	bufferVMConfig     = 6
	bufferPluginConfig = 7
)

// Map types.
const (
	mapRequestHeaders   = 0
	mapRequestTrailers  = 1
	mapResponseHeaders  = 2
	mapResponseTrailers = 3
	mapCallHeaders      = 6 // the callout response being delivered
	mapCallTrailers     = 7
)

// Log levels, trace 0 to critical 5.
const (
	logTrace = iota
	logDebug
	logInfo
	logWarn
	logError
	logCritical
)

// The ABI markers a module may export; both 0.2.x versions are accepted.
var abiMarkers = []string{"proxy_abi_version_0_2_1", "proxy_abi_version_0_2_0"}

// callback indexes the guest exports the host calls, cached per instance.
type callback int

const (
	cbContextCreate callback = iota
	cbVMStart
	cbConfigure
	cbRequestHeaders
	cbRequestBody
	cbResponseHeaders
	cbResponseBody
	cbDone
	cbLog
	cbDelete
	cbTick
	cbQueueReady
	cbCallResponse
	cbHandleRequest  // http-wasm
	cbHandleResponse // http-wasm
	numCallbacks
)

var callbackNames = [numCallbacks]string{
	cbContextCreate:   "proxy_on_context_create",
	cbVMStart:         "proxy_on_vm_start",
	cbConfigure:       "proxy_on_configure",
	cbRequestHeaders:  "proxy_on_request_headers",
	cbRequestBody:     "proxy_on_request_body",
	cbResponseHeaders: "proxy_on_response_headers",
	cbResponseBody:    "proxy_on_response_body",
	cbDone:            "proxy_on_done",
	cbLog:             "proxy_on_log",
	cbDelete:          "proxy_on_delete",
	cbTick:            "proxy_on_tick",
	cbQueueReady:      "proxy_on_queue_ready",
	cbCallResponse:    "proxy_on_http_call_response",
	cbHandleRequest:   "handle_request",
	cbHandleResponse:  "handle_response",
}

// allowedImports are the modules a guest may import from.
var allowedImports = map[string]bool{
	"env":                    true,
	"wasi_snapshot_preview1": true,
	"wasi_unstable":          true,
}
