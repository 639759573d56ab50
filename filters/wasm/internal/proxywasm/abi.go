package proxywasm

// Proxy-Wasm 0.2.1 constants (github.com/proxy-wasm/spec, abi-versions/v0.2.1).

// Status is what every host function returns.
type Status = uint32

const (
	StatusOK                  Status = 0
	StatusNotFound            Status = 1
	StatusBadArgument         Status = 2
	StatusSerializationFail   Status = 3
	StatusInvalidMemoryAccess Status = 6
	StatusEmpty               Status = 7
	StatusCasMismatch         Status = 8
	StatusInternalFailure     Status = 10
	StatusUnimplemented       Status = 12
)

// Actions returned by the stream callbacks. Any non-zero value other than
// pause is treated as pause, as Envoy-derived SDKs return extra values.
const (
	ActionContinue = 0
	ActionPause    = 1
)

// Buffer types.
const (
	BufferRequestBody  = 0
	BufferResponseBody = 1
	BufferCallResponse = 4 // the body of the callout response being delivered
	BufferVMConfig     = 6
	BufferPluginConfig = 7
)

// Map types.
const (
	MapRequestHeaders   = 0
	MapRequestTrailers  = 1
	MapResponseHeaders  = 2
	MapResponseTrailers = 3
	MapCallHeaders      = 6 // the callout response being delivered
	MapCallTrailers     = 7
)

// Log levels, trace 0 to critical 5.
const (
	LogTrace = iota
	LogDebug
	LogInfo
	LogWarn
	LogError
	LogCritical
)

// The ABI markers a module may export; both 0.2.x versions are accepted.
var ABIMarkers = []string{"proxy_abi_version_0_2_1", "proxy_abi_version_0_2_0"}

// Callbacks: the guest exports the host calls, by their index in
// Callbacks (an instance caches them).
const (
	OnContextCreate = iota
	OnVMStart
	OnConfigure
	OnRequestHeaders
	OnRequestBody
	OnResponseHeaders
	OnResponseBody
	OnDone
	OnLog
	OnDelete
	OnTick
	OnQueueReady
	OnHTTPCallResponse
	NumCallbacks
)

// Callbacks are the exports' names.
var Callbacks = [NumCallbacks]string{
	OnContextCreate:    "proxy_on_context_create",
	OnVMStart:          "proxy_on_vm_start",
	OnConfigure:        "proxy_on_configure",
	OnRequestHeaders:   "proxy_on_request_headers",
	OnRequestBody:      "proxy_on_request_body",
	OnResponseHeaders:  "proxy_on_response_headers",
	OnResponseBody:     "proxy_on_response_body",
	OnDone:             "proxy_on_done",
	OnLog:              "proxy_on_log",
	OnDelete:           "proxy_on_delete",
	OnTick:             "proxy_on_tick",
	OnQueueReady:       "proxy_on_queue_ready",
	OnHTTPCallResponse: "proxy_on_http_call_response",
}

// AllowedImports are the modules a guest may import from.
var AllowedImports = map[string]bool{
	"env":                    true,
	"wasi_snapshot_preview1": true,
	"wasi_unstable":          true,
}
