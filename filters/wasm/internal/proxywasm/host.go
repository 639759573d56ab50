package proxywasm

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/wasm/guestmetric"
)

// Host is what the host functions here need from the gateway, for the
// instance whose guest calls them. filters/wasm implements it on its
// instance (a conversion: no allocation per call).
type Host interface {
	// Current returns the exchange whose callback runs and its Proxy-Wasm
	// state; nil, nil in a root context.
	Current() (*filter.Exchange, *Stream)
	// Delivering is the callout response proxy_on_http_call_response is
	// reading (map types 6 and 7); nil outside it, or if the callout failed.
	Delivering() *CallResponse
	// PluginConfig is the configuration of the running context's root
	// (buffer 7); VMConfig is vm_config (buffer 6); Bodies reports
	// whether the plugin's config buffers the request (or the response)
	// body whole (bodies:); MaxBody is limits.max_body.
	PluginConfig() []byte
	VMConfig() []byte
	Bodies(request bool) bool
	MaxBody() int64
	// Wake wakes the running stream if it is held: it was answered from
	// another context.
	Wake()
	// Resume resumes the running stream (proxy_continue_stream).
	// SetEffectiveContext makes the callback go on as context id (a held
	// stream, the stream whose callout response is delivered, a root
	// context); false if it may not.
	Resume()
	SetEffectiveContext(id uint32) bool
	// HasUpstream reports whether the plugin declares the upstream under
	// callouts:; HTTPCall sends req there within d and returns the
	// callout's id; CalloutTimeout is the longest d.
	HasUpstream(name string) bool
	HTTPCall(upstream string, req *http.Request, d time.Duration) (uint32, Status)
	CalloutTimeout() time.Duration
	// SetTickPeriod makes the plugin tick at period (0 stops) on one of
	// its instances. Drained reports, in a root context, that the host was
	// waiting for proxy_done after proxy_on_done answered false, and stops
	// waiting.
	SetTickPeriod(period time.Duration)
	Drained() bool
	// Scratch is the instance's buffer for serializing maps and values.
	Scratch() *[]byte
	PluginName() string // the plugin's name (plugin_name)
	RootID() string     // the root id the config gives (plugin_root_id)
	// Allocate asks the guest for size bytes (its malloc, else
	// proxy_on_memory_allocate) from inside a host function.
	Allocate(ctx context.Context, size uint32) (uint32, bool)
	// Log sends a guest's line to the gateway log (and the running
	// exchange's capture); Logger is the plugin's log.
	Log(ctx context.Context, level string, l slog.Level, msg []byte)
	Logger() *slog.Logger
	VMID() string              // the plugin's vm id: shared data and queues are per vm id
	Shared() SharedStore       // the vm id's shared data, as this plugin sees it
	Metrics() *guestmetric.Set // the plugin's own metrics
	// Broken reports an instance that failed: its queues never wake it
	// again. QueueReady runs proxy_on_queue_ready(id) on the root context
	// of the configuration in force, in the background; false if the
	// plugin is closing.
	Broken() bool
	QueueReady(id uint32) bool
}

// CallResponse is a callout's response (proxy_http_call).
type CallResponse struct {
	Status          int
	Header, Trailer http.Header
	Body            []byte
}

// Func is one host function: its Wasm signature and implementation.
// Implementations read their i32 arguments from a and return the status;
// every guest pointer is checked before use.
type Func struct {
	Params  string // one letter per parameter: i for i32, I for i64
	Results string // "" or "i"
	Fn      func(ctx context.Context, h Host, mem api.Memory, a []uint64) Status
}

// Funcs are the host functions (module env), on Host.
var Funcs = map[string]Func{
	"proxy_log":                          {"iii", "i", hostLog},
	"proxy_get_log_level":                {"i", "i", hostGetLogLevel},
	"proxy_get_current_time_nanoseconds": {"i", "i", hostCurrentTime},
	"proxy_close_stream":                 {"i", "i", hostOK},
	"proxy_get_status":                   {"iii", "i", hostGetStatus},
	"proxy_get_property":                 {"iiii", "i", hostGetProperty},
	"proxy_get_header_map_pairs":         {"iii", "i", hostGetMapPairs},
	"proxy_set_header_map_pairs":         {"iii", "i", hostSetMapPairs},
	"proxy_get_header_map_value":         {"iiiii", "i", hostGetMapValue},
	"proxy_add_header_map_value":         {"iiiii", "i", hostAddMapValue},
	"proxy_replace_header_map_value":     {"iiiii", "i", hostReplaceMapValue},
	"proxy_remove_header_map_value":      {"iii", "i", hostRemoveMapValue},
	"proxy_get_header_map_size":          {"ii", "i", hostGetMapSize},
	"proxy_clear_route_cache":            {"", "i", hostClearRouteCache},
	"proxy_get_buffer_bytes":             {"iiiii", "i", hostGetBufferBytes},
	"proxy_set_buffer_bytes":             {"iiiii", "i", hostSetBufferBytes},
	"proxy_get_buffer_status":            {"iii", "i", hostGetBufferStatus},
	"proxy_send_local_response":          {"iiiiiiii", "i", hostSendLocalResponse},
	"proxy_continue_stream":              {"i", "i", hostContinueStream},
	"proxy_continue_request":             {"", "i", hostContinueStream},
	"proxy_continue_response":            {"", "i", hostContinueStream},
	"proxy_done":                         {"", "i", hostDone},
	"proxy_set_effective_context":        {"i", "i", hostSetEffectiveContext},
	"proxy_set_tick_period_milliseconds": {"i", "i", hostSetTickPeriod},
	"proxy_http_call":                    {"iiiiiiiiii", "i", hostHTTPCall},
	"proxy_set_property":                 {"iiii", "i", hostSetProperty},
	"proxy_get_shared_data":              {"iiiii", "i", hostGetSharedData},
	"proxy_set_shared_data":              {"iiiii", "i", hostSetSharedData},
	"proxy_register_shared_queue":        {"iii", "i", hostRegisterQueue},
	"proxy_resolve_shared_queue":         {"iiiii", "i", hostResolveQueue},
	"proxy_enqueue_shared_queue":         {"iii", "i", hostEnqueue},
	"proxy_dequeue_shared_queue":         {"iii", "i", hostDequeue},
	"proxy_define_metric":                {"iiii", "i", hostDefineMetric},
	"proxy_increment_metric":             {"iI", "i", hostIncrementMetric},
	"proxy_record_metric":                {"iI", "i", hostRecordMetric},
	"proxy_get_metric":                   {"ii", "i", hostGetMetric},
	// Left UNIMPLEMENTED (README): gRPC callouts and streams, L4 stream
	// callbacks' buffers, foreign functions.
	"proxy_grpc_call":             {"iiiiiiiiiiii", "i", hostUnimplemented},
	"proxy_call_foreign_function": {"iiiiii", "i", hostUnimplemented},
}

func hostOK(context.Context, Host, api.Memory, []uint64) Status { return StatusOK }

func hostSetEffectiveContext(_ context.Context, h Host, _ api.Memory, a []uint64) Status {
	if !h.SetEffectiveContext(Arg(a, 0)) {
		return StatusBadArgument
	}
	return StatusOK
}

func hostUnimplemented(context.Context, Host, api.Memory, []uint64) Status {
	return StatusUnimplemented
}

// Arg is the i32 argument i.
func Arg(a []uint64, i int) uint32 { return uint32(a[i]) }

// Read returns guest memory [ptr, ptr+size), or false if out of range.
// The slice aliases guest memory: copy what must outlive the call.
func Read(mem api.Memory, ptr, size uint32) ([]byte, bool) {
	if mem == nil {
		return nil, false
	}
	if size == 0 {
		return nil, true
	}
	return mem.Read(ptr, size)
}

// Give copies data into memory the guest allocates and writes its address
// and size to the guest's return pointers.
func Give(ctx context.Context, h Host, mem api.Memory, data []byte, retPtr, retSize uint32) Status {
	if mem == nil {
		return StatusInvalidMemoryAccess
	}
	// Check the return slots before allocating, so a bad pointer costs nothing.
	if _, ok := mem.Read(retPtr, 4); !ok {
		return StatusInvalidMemoryAccess
	}
	if _, ok := mem.Read(retSize, 4); !ok {
		return StatusInvalidMemoryAccess
	}
	var ptr uint32
	if len(data) > 0 {
		p, ok := h.Allocate(ctx, uint32(len(data)))
		if !ok {
			return StatusInvalidMemoryAccess
		}
		if !mem.Write(p, data) {
			return StatusInvalidMemoryAccess
		}
		ptr = p
	}
	if !mem.WriteUint32Le(retPtr, ptr) || !mem.WriteUint32Le(retSize, uint32(len(data))) {
		return StatusInvalidMemoryAccess
	}
	return StatusOK
}

var slogLevels = [...]slog.Level{
	LogTrace: slog.LevelDebug - 4, LogDebug: slog.LevelDebug, LogInfo: slog.LevelInfo,
	LogWarn: slog.LevelWarn, LogError: slog.LevelError, LogCritical: slog.LevelError + 4,
}

var levelNames = [...]string{"trace", "debug", "info", "warn", "error", "critical"}

func hostLog(ctx context.Context, h Host, mem api.Memory, a []uint64) Status {
	level := Arg(a, 0)
	if level > LogCritical {
		return StatusBadArgument
	}
	msg, ok := Read(mem, Arg(a, 1), Arg(a, 2))
	if !ok {
		return StatusInvalidMemoryAccess
	}
	h.Log(ctx, levelNames[level], slogLevels[level], msg)
	return StatusOK
}

func hostGetLogLevel(ctx context.Context, h Host, mem api.Memory, a []uint64) Status {
	level := uint32(LogCritical)
	for l := LogTrace; l <= LogCritical; l++ {
		if h.Logger().Enabled(ctx, slogLevels[l]) {
			level = uint32(l)
			break
		}
	}
	if mem == nil || !mem.WriteUint32Le(Arg(a, 0), level) {
		return StatusInvalidMemoryAccess
	}
	return StatusOK
}

func hostCurrentTime(_ context.Context, _ Host, mem api.Memory, a []uint64) Status {
	if mem == nil || !mem.WriteUint64Le(Arg(a, 0), uint64(time.Now().UnixNano())) {
		return StatusInvalidMemoryAccess
	}
	return StatusOK
}

func hostGetStatus(ctx context.Context, h Host, mem api.Memory, a []uint64) Status {
	if mem == nil || !mem.WriteUint32Le(Arg(a, 0), 0) {
		return StatusInvalidMemoryAccess
	}
	return Give(ctx, h, mem, nil, Arg(a, 1), Arg(a, 2))
}
