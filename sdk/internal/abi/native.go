//go:build !wasip1

package abi

import "github.com/wasmgate/wasmgate/sdk/proxywasm/types"

var host Host

// SetHost installs the emulated host (proxytest) or removes it (nil).
func SetHost(h Host) { host = h }

func current() Host {
	if host == nil {
		panic("proxywasm: no host; in native tests create one with proxytest.NewHostEmulator")
	}
	return host
}

func Log(level types.LogLevel, msg string) types.Status { return current().Log(level, msg) }
func GetLogLevel() (types.LogLevel, types.Status)       { return current().GetLogLevel() }
func GetCurrentTimeNanoseconds() (uint64, types.Status) {
	return current().GetCurrentTimeNanoseconds()
}
func SetTickPeriodMilliseconds(ms uint32) types.Status {
	return current().SetTickPeriodMilliseconds(ms)
}

func GetHeaderMapValue(m types.MapType, key string) ([]byte, types.Status) {
	return current().GetHeaderMapValue(m, key)
}
func AddHeaderMapValue(m types.MapType, key, value string) types.Status {
	return current().AddHeaderMapValue(m, key, value)
}
func ReplaceHeaderMapValue(m types.MapType, key, value string) types.Status {
	return current().ReplaceHeaderMapValue(m, key, value)
}
func RemoveHeaderMapValue(m types.MapType, key string) types.Status {
	return current().RemoveHeaderMapValue(m, key)
}
func GetHeaderMapPairs(m types.MapType) ([]byte, types.Status) {
	return current().GetHeaderMapPairs(m)
}
func SetHeaderMapPairs(m types.MapType, serialized []byte) types.Status {
	return current().SetHeaderMapPairs(m, serialized)
}
func GetHeaderMapSize(m types.MapType) (uint32, types.Status) {
	return current().GetHeaderMapSize(m)
}

func GetBufferBytes(b types.BufferType, start, maxSize uint32) ([]byte, types.Status) {
	return current().GetBufferBytes(b, start, maxSize)
}
func SetBufferBytes(b types.BufferType, start, size uint32, data []byte) types.Status {
	return current().SetBufferBytes(b, start, size, data)
}
func GetBufferStatus(b types.BufferType) (uint32, types.Status) {
	return current().GetBufferStatus(b)
}

func SendLocalResponse(status uint32, details string, body, headers []byte, grpcStatus int32) types.Status {
	return current().SendLocalResponse(status, details, body, headers, grpcStatus)
}
func ContinueStream(s types.StreamType) types.Status { return current().ContinueStream(s) }
func CloseStream(s types.StreamType) types.Status    { return current().CloseStream(s) }

func GetProperty(path []byte) ([]byte, types.Status) { return current().GetProperty(path) }
func SetProperty(path, value []byte) types.Status    { return current().SetProperty(path, value) }

func HttpCall(upstream string, headers, body, trailers []byte, timeoutMillis uint32) (uint32, types.Status) {
	return current().HttpCall(upstream, headers, body, trailers, timeoutMillis)
}
func SetEffectiveContext(contextID uint32) types.Status {
	return current().SetEffectiveContext(contextID)
}
func Done() types.Status { return current().Done() }
func CallForeignFunction(name string, param []byte) ([]byte, types.Status) {
	return current().CallForeignFunction(name, param)
}

// Current is the installed emulated host, or nil (proxytest's Wasm runner
// forwards a compiled module's host calls to it).
func Current() Host { return host }

func GetSharedData(key string) ([]byte, uint32, types.Status) { return current().GetSharedData(key) }
func SetSharedData(key string, value []byte, cas uint32) types.Status {
	return current().SetSharedData(key, value, cas)
}
func RegisterSharedQueue(name string) (uint32, types.Status) {
	return current().RegisterSharedQueue(name)
}
func ResolveSharedQueue(vmID, name string) (uint32, types.Status) {
	return current().ResolveSharedQueue(vmID, name)
}
func EnqueueSharedQueue(queueID uint32, value []byte) types.Status {
	return current().EnqueueSharedQueue(queueID, value)
}
func DequeueSharedQueue(queueID uint32) ([]byte, types.Status) {
	return current().DequeueSharedQueue(queueID)
}

func DefineMetric(t types.MetricType, name string) (uint32, types.Status) {
	return current().DefineMetric(t, name)
}
func IncrementMetric(id uint32, delta int64) types.Status {
	return current().IncrementMetric(id, delta)
}
func RecordMetric(id uint32, value uint64) types.Status { return current().RecordMetric(id, value) }
func GetMetric(id uint32) (uint64, types.Status)        { return current().GetMetric(id) }
