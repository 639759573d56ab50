// Package types holds the contexts a filter implements and the values that
// cross the Proxy-Wasm ABI: actions, statuses, log levels and errors.
//
// The names follow the upstream proxy-wasm Go SDK, so a filter written for it
// ports by changing its import paths.
package types

import "strconv"

// Action tells the host whether to go on with a stream after a callback.
type Action uint32

const (
	// ActionContinue lets the host forward what it has and go on.
	ActionContinue Action = 0
	// ActionPause stops the stream until the filter resumes it (or sends a
	// local response). Returned from a body callback, it makes the host buffer.
	ActionPause Action = 1
)

// OnVMStartStatus is the result of VMContext.OnVMStart.
type OnVMStartStatus bool

const (
	OnVMStartStatusOK     OnVMStartStatus = true
	OnVMStartStatusFailed OnVMStartStatus = false
)

// OnPluginStartStatus is the result of PluginContext.OnPluginStart.
type OnPluginStartStatus bool

const (
	OnPluginStartStatusOK     OnPluginStartStatus = true
	OnPluginStartStatusFailed OnPluginStartStatus = false
)

// PeerType says which side closed a TCP connection.
type PeerType uint32

const (
	PeerTypeUnknown PeerType = 0
	PeerTypeLocal   PeerType = 1
	PeerTypeRemote  PeerType = 2
)

// LogLevel is a Proxy-Wasm log level.
type LogLevel uint32

const (
	LogLevelTrace    LogLevel = 0
	LogLevelDebug    LogLevel = 1
	LogLevelInfo     LogLevel = 2
	LogLevelWarn     LogLevel = 3
	LogLevelError    LogLevel = 4
	LogLevelCritical LogLevel = 5
)

func (l LogLevel) String() string {
	switch l {
	case LogLevelTrace:
		return "trace"
	case LogLevelDebug:
		return "debug"
	case LogLevelInfo:
		return "info"
	case LogLevelWarn:
		return "warn"
	case LogLevelError:
		return "error"
	case LogLevelCritical:
		return "critical"
	}
	return "level(" + strconv.Itoa(int(l)) + ")"
}

// MetricType is the kind of a metric defined with proxy_define_metric.
type MetricType uint32

const (
	MetricTypeCounter   MetricType = 0
	MetricTypeGauge     MetricType = 1
	MetricTypeHistogram MetricType = 2
)

// MapType names a header map (Proxy-Wasm proxy_map_type_t).
type MapType uint32

const (
	MapTypeHttpRequestHeaders       MapType = 0
	MapTypeHttpRequestTrailers      MapType = 1
	MapTypeHttpResponseHeaders      MapType = 2
	MapTypeHttpResponseTrailers     MapType = 3
	MapTypeGrpcReceiveInitial       MapType = 4
	MapTypeGrpcReceiveTrailing      MapType = 5
	MapTypeHttpCallResponseHeaders  MapType = 6
	MapTypeHttpCallResponseTrailers MapType = 7
)

// BufferType names a buffer (Proxy-Wasm proxy_buffer_type_t).
type BufferType uint32

const (
	BufferTypeHttpRequestBody      BufferType = 0
	BufferTypeHttpResponseBody     BufferType = 1
	BufferTypeDownstreamData       BufferType = 2
	BufferTypeUpstreamData         BufferType = 3
	BufferTypeHttpCallResponseBody BufferType = 4
	BufferTypeGrpcReceiveBuffer    BufferType = 5
	BufferTypeVMConfiguration      BufferType = 6
	BufferTypePluginConfiguration  BufferType = 7
	BufferTypeCallData             BufferType = 8
)

// StreamType names a stream direction (Proxy-Wasm proxy_stream_type_t).
type StreamType uint32

const (
	StreamTypeRequest    StreamType = 0
	StreamTypeResponse   StreamType = 1
	StreamTypeDownstream StreamType = 2
	StreamTypeUpstream   StreamType = 3
)
