package proxywasm

import (
	"github.com/wasmgate/wasmgate/sdk/internal/abi"
	"github.com/wasmgate/wasmgate/sdk/internal/vmstate"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

// GetVMConfiguration returns the VM configuration; call it from OnVMStart.
func GetVMConfiguration() ([]byte, error) {
	return getBuffer(types.BufferTypeVMConfiguration, 0, bufferEnd)
}

// GetPluginConfiguration returns the plugin configuration (in wasmgate, the
// plugin's `config:` as compact JSON); call it from OnPluginStart.
func GetPluginConfiguration() ([]byte, error) {
	return getBuffer(types.BufferTypePluginConfiguration, 0, bufferEnd)
}

// SetTickPeriodMilliSeconds makes the host call OnTick every period; 0 stops it.
func SetTickPeriodMilliSeconds(period uint32) error {
	return abi.SetTickPeriodMilliseconds(period).Err()
}

// GetCurrentTimeNanoseconds returns the host's clock (which may be frozen
// for the duration of a callback).
func GetCurrentTimeNanoseconds() (int64, error) {
	t, st := abi.GetCurrentTimeNanoseconds()
	return int64(t), st.Err()
}

// GetProperty reads a host property by path, e.g. []string{"request", "path"}.
// In wasmgate, its own attributes are under "wasmgate" (route name, route
// params, consumer).
func GetProperty(path []string) ([]byte, error) {
	v, st := abi.GetProperty(serializePath(path))
	if st != types.StatusOK {
		return nil, st.Err()
	}
	return v, nil
}

// GetPropertyMap reads a map-valued property (such as route or cluster
// metadata) serialized as a header map.
func GetPropertyMap(path []string) ([][2]string, error) {
	v, err := GetProperty(path)
	if err != nil {
		return nil, err
	}
	return deserializeMap(v), nil
}

// SetProperty writes a host property.
func SetProperty(path []string, data []byte) error {
	return abi.SetProperty(serializePath(path), data).Err()
}

// SetEffectiveContext makes the host act on another context's stream: call
// it from a tick, queue or callout callback before reading or editing a
// stream's headers or resuming it.
func SetEffectiveContext(contextID uint32) error {
	st := abi.SetEffectiveContext(contextID)
	if st == types.StatusOK {
		vmstate.SetEffective(contextID)
	}
	return st.Err()
}

// CallForeignFunction calls a host-specific function by name. wasmgate
// defines none and answers ErrorUnimplemented; Envoy defines a few of its own.
func CallForeignFunction(funcName string, param []byte) (ret []byte, err error) {
	v, st := abi.CallForeignFunction(funcName, param)
	if st != types.StatusOK {
		return nil, st.Err()
	}
	return v, nil
}

// PluginDone tells the host a plugin context that returned false from
// OnPluginDone has finished.
func PluginDone() { abi.Done() }

// Shared data: a key-value store shared by every VM of the same vm id, with a
// compare-and-swap counter.

// GetSharedData returns a value and its CAS counter.
func GetSharedData(key string) (value []byte, cas uint32, err error) {
	v, c, st := abi.GetSharedData(key)
	if st != types.StatusOK {
		return nil, 0, st.Err()
	}
	return v, c, nil
}

// SetSharedData stores a value; a non-zero cas must match the current one
// (else ErrorStatusCasMismatch).
func SetSharedData(key string, data []byte, cas uint32) error {
	return abi.SetSharedData(key, data, cas).Err()
}

// Shared queues.

func RegisterSharedQueue(name string) (queueID uint32, err error) {
	id, st := abi.RegisterSharedQueue(name)
	return id, st.Err()
}

func ResolveSharedQueue(vmID, queueName string) (queueID uint32, err error) {
	id, st := abi.ResolveSharedQueue(vmID, queueName)
	return id, st.Err()
}

// DequeueSharedQueue returns the next item, or ErrorStatusEmpty.
func DequeueSharedQueue(queueID uint32) ([]byte, error) {
	v, st := abi.DequeueSharedQueue(queueID)
	if st != types.StatusOK {
		return nil, st.Err()
	}
	return v, nil
}

func EnqueueSharedQueue(queueID uint32, data []byte) error {
	return abi.EnqueueSharedQueue(queueID, data).Err()
}

// TCP streams.

func GetDownstreamData(start, maxSize int) ([]byte, error) {
	return getBuffer(types.BufferTypeDownstreamData, start, maxSize)
}
func AppendDownstreamData(data []byte) error {
	return appendBuffer(types.BufferTypeDownstreamData, data)
}
func PrependDownstreamData(data []byte) error {
	return prependBuffer(types.BufferTypeDownstreamData, data)
}
func ReplaceDownstreamData(data []byte) error {
	return replaceBuffer(types.BufferTypeDownstreamData, data)
}
func GetUpstreamData(start, maxSize int) ([]byte, error) {
	return getBuffer(types.BufferTypeUpstreamData, start, maxSize)
}
func AppendUpstreamData(data []byte) error { return appendBuffer(types.BufferTypeUpstreamData, data) }
func PrependUpstreamData(data []byte) error {
	return prependBuffer(types.BufferTypeUpstreamData, data)
}
func ReplaceUpstreamData(data []byte) error {
	return replaceBuffer(types.BufferTypeUpstreamData, data)
}
func ContinueTcpStream() error { return abi.ContinueStream(types.StreamTypeDownstream).Err() }
func CloseDownstream() error   { return abi.CloseStream(types.StreamTypeDownstream).Err() }
func CloseUpstream() error     { return abi.CloseStream(types.StreamTypeUpstream).Err() }
