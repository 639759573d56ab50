//go:build wasip1

package abi

import (
	"unsafe"

	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

// Return slots for host calls; see imports_wasip1.go for why they are globals.
var (
	retData, retSize, retAux uint32
	retU64                   uint64
)

func pData() unsafe.Pointer { return unsafe.Pointer(&retData) }
func pSize() unsafe.Pointer { return unsafe.Pointer(&retSize) }
func pAux() unsafe.Pointer  { return unsafe.Pointer(&retAux) }

// SetHost exists so proxytest compiles for wasip1; the emulator only runs natively.
func SetHost(Host) {
	panic("proxytest: the host emulator runs natively; run the tests without GOOS=wasip1")
}

func Log(level types.LogLevel, msg string) types.Status {
	return types.Status(proxyLog(uint32(level), strPtr(msg), uint32(len(msg))))
}

func GetLogLevel() (types.LogLevel, types.Status) {
	st := proxyGetLogLevel(pAux())
	return types.LogLevel(retAux), types.Status(st)
}

func GetCurrentTimeNanoseconds() (uint64, types.Status) {
	st := proxyGetCurrentTimeNanoseconds(unsafe.Pointer(&retU64))
	return retU64, types.Status(st)
}

func SetTickPeriodMilliseconds(ms uint32) types.Status {
	return types.Status(proxySetTickPeriodMilliseconds(ms))
}

func GetHeaderMapValue(m types.MapType, key string) ([]byte, types.Status) {
	release()
	st := types.Status(proxyGetHeaderMapValue(uint32(m), strPtr(key), uint32(len(key)), pData(), pSize()))
	if st != types.StatusOK {
		return nil, st
	}
	return view(retData, retSize), st
}

func AddHeaderMapValue(m types.MapType, key, value string) types.Status {
	return types.Status(proxyAddHeaderMapValue(uint32(m), strPtr(key), uint32(len(key)), strPtr(value), uint32(len(value))))
}

func ReplaceHeaderMapValue(m types.MapType, key, value string) types.Status {
	return types.Status(proxyReplaceHeaderMapValue(uint32(m), strPtr(key), uint32(len(key)), strPtr(value), uint32(len(value))))
}

func RemoveHeaderMapValue(m types.MapType, key string) types.Status {
	return types.Status(proxyRemoveHeaderMapValue(uint32(m), strPtr(key), uint32(len(key))))
}

func GetHeaderMapPairs(m types.MapType) ([]byte, types.Status) {
	release()
	st := types.Status(proxyGetHeaderMapPairs(uint32(m), pData(), pSize()))
	if st != types.StatusOK {
		return nil, st
	}
	return view(retData, retSize), st
}

func SetHeaderMapPairs(m types.MapType, serialized []byte) types.Status {
	return types.Status(proxySetHeaderMapPairs(uint32(m), bytesPtr(serialized), uint32(len(serialized))))
}

func GetHeaderMapSize(m types.MapType) (uint32, types.Status) {
	st := proxyGetHeaderMapSize(uint32(m), pSize())
	return retSize, types.Status(st)
}

func GetBufferBytes(b types.BufferType, start, maxSize uint32) ([]byte, types.Status) {
	release()
	st := types.Status(proxyGetBufferBytes(uint32(b), start, maxSize, pData(), pSize()))
	if st != types.StatusOK {
		return nil, st
	}
	return owned(retData, retSize), st
}

func SetBufferBytes(b types.BufferType, start, size uint32, data []byte) types.Status {
	return types.Status(proxySetBufferBytes(uint32(b), start, size, bytesPtr(data), uint32(len(data))))
}

func GetBufferStatus(b types.BufferType) (uint32, types.Status) {
	st := proxyGetBufferStatus(uint32(b), pSize(), pAux())
	return retSize, types.Status(st)
}

func SendLocalResponse(status uint32, details string, body, headers []byte, grpcStatus int32) types.Status {
	return types.Status(proxySendLocalResponse(status, strPtr(details), uint32(len(details)),
		bytesPtr(body), uint32(len(body)), bytesPtr(headers), uint32(len(headers)), grpcStatus))
}

func ContinueStream(s types.StreamType) types.Status {
	return types.Status(proxyContinueStream(uint32(s)))
}

func CloseStream(s types.StreamType) types.Status { return types.Status(proxyCloseStream(uint32(s))) }

func GetProperty(path []byte) ([]byte, types.Status) {
	release()
	st := types.Status(proxyGetProperty(bytesPtr(path), uint32(len(path)), pData(), pSize()))
	if st != types.StatusOK {
		return nil, st
	}
	return owned(retData, retSize), st
}

func SetProperty(path, value []byte) types.Status {
	return types.Status(proxySetProperty(bytesPtr(path), uint32(len(path)), bytesPtr(value), uint32(len(value))))
}

func HttpCall(upstream string, headers, body, trailers []byte, timeoutMillis uint32) (uint32, types.Status) {
	st := proxyHttpCall(strPtr(upstream), uint32(len(upstream)), bytesPtr(headers), uint32(len(headers)),
		bytesPtr(body), uint32(len(body)), bytesPtr(trailers), uint32(len(trailers)), timeoutMillis, pAux())
	return retAux, types.Status(st)
}

func SetEffectiveContext(contextID uint32) types.Status {
	return types.Status(proxySetEffectiveContext(contextID))
}

func Done() types.Status { return types.Status(proxyDone()) }

func CallForeignFunction(name string, param []byte) ([]byte, types.Status) {
	release()
	st := types.Status(proxyCallForeignFunction(strPtr(name), uint32(len(name)), bytesPtr(param), uint32(len(param)), pData(), pSize()))
	if st != types.StatusOK {
		return nil, st
	}
	return owned(retData, retSize), st
}

func GetSharedData(key string) ([]byte, uint32, types.Status) {
	release()
	st := types.Status(proxyGetSharedData(strPtr(key), uint32(len(key)), pData(), pSize(), pAux()))
	if st != types.StatusOK {
		return nil, 0, st
	}
	return owned(retData, retSize), retAux, st
}

func SetSharedData(key string, value []byte, cas uint32) types.Status {
	return types.Status(proxySetSharedData(strPtr(key), uint32(len(key)), bytesPtr(value), uint32(len(value)), cas))
}

func RegisterSharedQueue(name string) (uint32, types.Status) {
	st := proxyRegisterSharedQueue(strPtr(name), uint32(len(name)), pAux())
	return retAux, types.Status(st)
}

func ResolveSharedQueue(vmID, name string) (uint32, types.Status) {
	st := proxyResolveSharedQueue(strPtr(vmID), uint32(len(vmID)), strPtr(name), uint32(len(name)), pAux())
	return retAux, types.Status(st)
}

func EnqueueSharedQueue(queueID uint32, value []byte) types.Status {
	return types.Status(proxyEnqueueSharedQueue(queueID, bytesPtr(value), uint32(len(value))))
}

func DequeueSharedQueue(queueID uint32) ([]byte, types.Status) {
	release()
	st := types.Status(proxyDequeueSharedQueue(queueID, pData(), pSize()))
	if st != types.StatusOK {
		return nil, st
	}
	return owned(retData, retSize), st
}

func DefineMetric(t types.MetricType, name string) (uint32, types.Status) {
	st := proxyDefineMetric(uint32(t), strPtr(name), uint32(len(name)), pAux())
	return retAux, types.Status(st)
}

func IncrementMetric(id uint32, delta int64) types.Status {
	return types.Status(proxyIncrementMetric(id, delta))
}

func RecordMetric(id uint32, value uint64) types.Status {
	return types.Status(proxyRecordMetric(id, value))
}

func GetMetric(id uint32) (uint64, types.Status) {
	st := proxyGetMetric(id, unsafe.Pointer(&retU64))
	return retU64, types.Status(st)
}
