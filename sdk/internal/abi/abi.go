// Package abi is the SDK's one door to the host: the Proxy-Wasm 0.2.1 host
// functions as Go functions over strings and byte slices.
//
// Built for wasip1 it binds them with go:wasmimport (module "env", spec
// names only, so filters also load in Envoy); built natively it forwards
// them to a Host installed by proxytest, so filters can be unit-tested with
// plain `go test`.
//
// Byte slices returned as views (GetHeaderMapValue, GetHeaderMapPairs) are
// valid only until the next host call; everything else is owned by the
// caller.
package abi

import "github.com/wasmgate/wasmgate/sdk/proxywasm/types"

// Host is what the native build forwards every host function to. Its
// methods take and return exactly what the ABI carries: serialized maps,
// NUL-separated property paths, raw statuses.
type Host interface {
	Log(level types.LogLevel, msg string) types.Status
	GetLogLevel() (types.LogLevel, types.Status)
	GetCurrentTimeNanoseconds() (uint64, types.Status)
	SetTickPeriodMilliseconds(ms uint32) types.Status

	GetHeaderMapValue(m types.MapType, key string) ([]byte, types.Status)
	AddHeaderMapValue(m types.MapType, key, value string) types.Status
	ReplaceHeaderMapValue(m types.MapType, key, value string) types.Status
	RemoveHeaderMapValue(m types.MapType, key string) types.Status
	GetHeaderMapPairs(m types.MapType) ([]byte, types.Status)
	SetHeaderMapPairs(m types.MapType, serialized []byte) types.Status
	GetHeaderMapSize(m types.MapType) (uint32, types.Status)

	GetBufferBytes(b types.BufferType, start, maxSize uint32) ([]byte, types.Status)
	SetBufferBytes(b types.BufferType, start, size uint32, data []byte) types.Status
	GetBufferStatus(b types.BufferType) (uint32, types.Status)

	SendLocalResponse(status uint32, details string, body, headers []byte, grpcStatus int32) types.Status
	ContinueStream(s types.StreamType) types.Status
	CloseStream(s types.StreamType) types.Status

	GetProperty(path []byte) ([]byte, types.Status)
	SetProperty(path, value []byte) types.Status

	HttpCall(upstream string, headers, body, trailers []byte, timeoutMillis uint32) (uint32, types.Status)
	SetEffectiveContext(contextID uint32) types.Status
	Done() types.Status
	CallForeignFunction(name string, param []byte) ([]byte, types.Status)

	GetSharedData(key string) ([]byte, uint32, types.Status)
	SetSharedData(key string, value []byte, cas uint32) types.Status
	RegisterSharedQueue(name string) (uint32, types.Status)
	ResolveSharedQueue(vmID, name string) (uint32, types.Status)
	EnqueueSharedQueue(queueID uint32, value []byte) types.Status
	DequeueSharedQueue(queueID uint32) ([]byte, types.Status)

	DefineMetric(t types.MetricType, name string) (uint32, types.Status)
	IncrementMetric(id uint32, delta int64) types.Status
	RecordMetric(id uint32, value uint64) types.Status
	GetMetric(id uint32) (uint64, types.Status)
}
