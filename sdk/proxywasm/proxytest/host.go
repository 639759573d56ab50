package proxytest

import (
	"encoding/binary"
	"slices"
	"strings"
	"time"

	"github.com/wasmgate/wasmgate/sdk/internal/abi"
	"github.com/wasmgate/wasmgate/sdk/internal/vmstate"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

type httpStream struct {
	reqHeaders, reqTrailers, respHeaders, respTrailers [][2]string
	reqBody, respBody                                  []byte
	reqBodyPaused, respBodyPaused                      bool
	action                                             types.Action
	local                                              *LocalHttpResponse
	deleted                                            bool
}

type calloutResponse struct {
	headers, trailers [][2]string
	body              []byte
}

type sharedValue struct {
	value []byte
	cas   uint32
}

type metric struct {
	kind  types.MetricType
	value uint64
}

type state struct {
	opt        *EmulatorOption
	nextID     uint32
	active     uint32
	logs       map[types.LogLevel][]string
	tickPeriod uint32
	streams    map[uint32]*httpStream
	callouts   map[uint32][]HttpCalloutAttribute // by dispatching context, in order
	pending    map[uint32]uint32                 // unanswered callout id -> context
	conns      map[uint32]*tcpConn
	foreign    map[string]func([]byte) []byte
	callout    *calloutResponse
	sharedData map[string]sharedValue
	queueIDs   map[string]uint32
	queues     map[uint32][][]byte
	metricIDs  map[string]uint32
	metrics    map[uint32]*metric
	properties map[string][]byte
	pluginDone bool
}

// hostABI answers the SDK's host calls from the emulator's state. It works on
// the serialized forms, so the SDK's own serialization is under test too.
type hostABI struct{ *state }

var _ abi.Host = hostABI{}

func (h hostABI) Log(level types.LogLevel, msg string) types.Status {
	if level > types.LogLevelCritical {
		return types.StatusBadArgument
	}
	h.logs[level] = append(h.logs[level], msg)
	return types.StatusOK
}

func (h hostABI) GetLogLevel() (types.LogLevel, types.Status) { return h.opt.logLevel, types.StatusOK }

func (h hostABI) GetCurrentTimeNanoseconds() (uint64, types.Status) {
	return uint64(time.Now().UnixNano()), types.StatusOK
}

func (h hostABI) SetTickPeriodMilliseconds(ms uint32) types.Status {
	h.tickPeriod = ms
	return types.StatusOK
}

func (h hostABI) headerMap(m types.MapType) (*[][2]string, types.Status) {
	switch m {
	case types.MapTypeHttpCallResponseHeaders, types.MapTypeHttpCallResponseTrailers:
		if h.callout == nil {
			return nil, types.StatusNotFound
		}
		if m == types.MapTypeHttpCallResponseHeaders {
			return &h.callout.headers, types.StatusOK
		}
		return &h.callout.trailers, types.StatusOK
	}
	s, ok := h.streams[h.active]
	if !ok {
		return nil, types.StatusNotFound
	}
	switch m {
	case types.MapTypeHttpRequestHeaders:
		return &s.reqHeaders, types.StatusOK
	case types.MapTypeHttpRequestTrailers:
		return &s.reqTrailers, types.StatusOK
	case types.MapTypeHttpResponseHeaders:
		return &s.respHeaders, types.StatusOK
	case types.MapTypeHttpResponseTrailers:
		return &s.respTrailers, types.StatusOK
	}
	return nil, types.StatusBadArgument
}

func (h hostABI) GetHeaderMapValue(m types.MapType, key string) ([]byte, types.Status) {
	mp, st := h.headerMap(m)
	if st != types.StatusOK {
		return nil, st
	}
	for _, p := range *mp {
		if strings.EqualFold(p[0], key) {
			return []byte(p[1]), types.StatusOK
		}
	}
	return nil, types.StatusNotFound
}

func (h hostABI) AddHeaderMapValue(m types.MapType, key, value string) types.Status {
	mp, st := h.headerMap(m)
	if st != types.StatusOK {
		return st
	}
	*mp = append(*mp, [2]string{key, value})
	return types.StatusOK
}

func (h hostABI) ReplaceHeaderMapValue(m types.MapType, key, value string) types.Status {
	mp, st := h.headerMap(m)
	if st != types.StatusOK {
		return st
	}
	for i, p := range *mp {
		if strings.EqualFold(p[0], key) {
			(*mp)[i][1] = value
			h.dedupe(mp, key, i)
			return types.StatusOK
		}
	}
	*mp = append(*mp, [2]string{key, value})
	return types.StatusOK
}

// dedupe drops every pair named key after index keep.
func (h hostABI) dedupe(mp *[][2]string, key string, keep int) {
	out := (*mp)[:0]
	for i, p := range *mp {
		if i > keep && strings.EqualFold(p[0], key) {
			continue
		}
		out = append(out, p)
	}
	*mp = out
}

func (h hostABI) RemoveHeaderMapValue(m types.MapType, key string) types.Status {
	mp, st := h.headerMap(m)
	if st != types.StatusOK {
		return st
	}
	*mp = slices.DeleteFunc(*mp, func(p [2]string) bool { return strings.EqualFold(p[0], key) })
	return types.StatusOK
}

func (h hostABI) GetHeaderMapPairs(m types.MapType) ([]byte, types.Status) {
	mp, st := h.headerMap(m)
	if st != types.StatusOK {
		return nil, st
	}
	return serialize(*mp), types.StatusOK
}

func (h hostABI) SetHeaderMapPairs(m types.MapType, serialized []byte) types.Status {
	mp, st := h.headerMap(m)
	if st != types.StatusOK {
		return st
	}
	pairs, ok := deserialize(serialized)
	if !ok {
		return types.StatusBadArgument
	}
	*mp = pairs
	return types.StatusOK
}

func (h hostABI) GetHeaderMapSize(m types.MapType) (uint32, types.Status) {
	mp, st := h.headerMap(m)
	if st != types.StatusOK {
		return 0, st
	}
	return uint32(len(serialize(*mp))), types.StatusOK
}

func (h hostABI) buffer(b types.BufferType) (*[]byte, types.Status) {
	switch b {
	case types.BufferTypeVMConfiguration:
		return &h.opt.vmConfiguration, types.StatusOK
	case types.BufferTypePluginConfiguration:
		return &h.opt.pluginConfiguration, types.StatusOK
	case types.BufferTypeHttpCallResponseBody:
		if h.callout == nil {
			return nil, types.StatusNotFound
		}
		return &h.callout.body, types.StatusOK
	case types.BufferTypeDownstreamData, types.BufferTypeUpstreamData:
		c, ok := h.conns[h.active]
		if !ok {
			return nil, types.StatusNotFound
		}
		if b == types.BufferTypeDownstreamData {
			return &c.downstream, types.StatusOK
		}
		return &c.upstream, types.StatusOK
	case types.BufferTypeHttpRequestBody, types.BufferTypeHttpResponseBody:
		s, ok := h.streams[h.active]
		if !ok {
			return nil, types.StatusNotFound
		}
		if b == types.BufferTypeHttpRequestBody {
			return &s.reqBody, types.StatusOK
		}
		return &s.respBody, types.StatusOK
	}
	return nil, types.StatusBadArgument
}

func (h hostABI) GetBufferBytes(b types.BufferType, start, maxSize uint32) ([]byte, types.Status) {
	buf, st := h.buffer(b)
	if st != types.StatusOK {
		return nil, st
	}
	n := uint64(len(*buf))
	if uint64(start) > n {
		return nil, types.StatusBadArgument
	}
	end := min(uint64(start)+uint64(maxSize), n)
	return slices.Clone((*buf)[start:end]), types.StatusOK
}

// SetBufferBytes replaces size bytes at start: (0, 0) prepends, a start at or
// past the end appends, (0, >= len) replaces.
func (h hostABI) SetBufferBytes(b types.BufferType, start, size uint32, data []byte) types.Status {
	buf, st := h.buffer(b)
	if st != types.StatusOK {
		return st
	}
	switch b {
	case types.BufferTypeHttpRequestBody, types.BufferTypeHttpResponseBody,
		types.BufferTypeDownstreamData, types.BufferTypeUpstreamData:
	default:
		return types.StatusBadArgument
	}
	n := uint64(len(*buf))
	s := min(uint64(start), n)
	e := min(s+uint64(size), n)
	out := make([]byte, 0, n-(e-s)+uint64(len(data)))
	out = append(out, (*buf)[:s]...)
	out = append(out, data...)
	out = append(out, (*buf)[e:]...)
	*buf = out
	return types.StatusOK
}

func (h hostABI) GetBufferStatus(b types.BufferType) (uint32, types.Status) {
	buf, st := h.buffer(b)
	if st != types.StatusOK {
		return 0, st
	}
	return uint32(len(*buf)), types.StatusOK
}

func (h hostABI) SendLocalResponse(status uint32, details string, body, headers []byte, grpcStatus int32) types.Status {
	s, ok := h.streams[h.active]
	if !ok {
		return types.StatusNotFound
	}
	pairs, ok := deserialize(headers)
	if !ok {
		return types.StatusBadArgument
	}
	s.local = &LocalHttpResponse{StatusCode: status, StatusCodeDetail: details,
		Data: slices.Clone(body), Headers: pairs, GRPCStatus: grpcStatus}
	return types.StatusOK
}

func (h hostABI) ContinueStream(st types.StreamType) types.Status {
	if c, ok := h.conns[h.active]; ok {
		c.action = types.ActionContinue
		return types.StatusOK
	}
	s, ok := h.streams[h.active]
	if !ok {
		return types.StatusNotFound
	}
	if st > types.StreamTypeResponse {
		return types.StatusBadArgument
	}
	s.action = types.ActionContinue
	return types.StatusOK
}

func (h hostABI) CloseStream(st types.StreamType) types.Status {
	if c, ok := h.conns[h.active]; ok {
		switch st {
		case types.StreamTypeDownstream:
			c.downstreamClosed = true
		case types.StreamTypeUpstream:
			c.upstreamClosed = true
		default:
			return types.StatusBadArgument
		}
		return types.StatusOK
	}
	if _, ok := h.streams[h.active]; !ok {
		return types.StatusNotFound
	}
	return types.StatusOK
}

func (h hostABI) GetProperty(path []byte) ([]byte, types.Status) {
	key := strings.TrimSuffix(string(path), "\x00")
	if v, ok := h.properties[key]; ok {
		return slices.Clone(v), types.StatusOK
	}
	// Request attributes follow the request headers, as in a real host.
	if s, ok := h.streams[h.active]; ok {
		pseudo := map[string]string{"request\x00path": ":path", "request\x00method": ":method",
			"request\x00host": ":authority", "request\x00scheme": ":scheme"}[key]
		for _, p := range s.reqHeaders {
			if pseudo != "" && p[0] == pseudo {
				return []byte(p[1]), types.StatusOK
			}
		}
	}
	return nil, types.StatusNotFound
}

func (h hostABI) SetProperty(path, value []byte) types.Status {
	h.properties[strings.TrimSuffix(string(path), "\x00")] = slices.Clone(value)
	return types.StatusOK
}

func (h hostABI) HttpCall(upstream string, headers, body, trailers []byte, timeoutMillis uint32) (uint32, types.Status) {
	hp, ok := deserialize(headers)
	if !ok {
		return 0, types.StatusBadArgument
	}
	tp, ok := deserialize(trailers)
	if !ok {
		return 0, types.StatusBadArgument
	}
	// The lowest id not awaiting a response: what the upstream emulator
	// hands out in the sequences its examples test, without its collisions.
	var id uint32
	for _, busy := h.pending[id]; busy; _, busy = h.pending[id] {
		id++
	}
	h.pending[id] = h.active
	h.callouts[h.active] = append(h.callouts[h.active], HttpCalloutAttribute{CalloutID: id,
		Upstream: upstream, Headers: lowerKeys(hp), Trailers: lowerKeys(tp), Body: slices.Clone(body)})
	return id, types.StatusOK
}

func (h hostABI) CallForeignFunction(name string, param []byte) ([]byte, types.Status) {
	f, ok := h.foreign[name]
	if !ok {
		return nil, types.StatusUnimplemented // what wasmgate answers for every name
	}
	return f(slices.Clone(param)), types.StatusOK
}

func (h hostABI) SetEffectiveContext(contextID uint32) types.Status {
	if s, ok := h.streams[contextID]; (!ok || s.deleted) && contextID != PluginContextID {
		return types.StatusBadArgument
	}
	h.active = contextID
	return types.StatusOK
}

func (h hostABI) Done() types.Status {
	h.pluginDone = true
	return types.StatusOK
}

func (h hostABI) GetSharedData(key string) ([]byte, uint32, types.Status) {
	v, ok := h.sharedData[key]
	if !ok {
		return nil, 0, types.StatusNotFound
	}
	return slices.Clone(v.value), v.cas, types.StatusOK
}

func (h hostABI) SetSharedData(key string, value []byte, cas uint32) types.Status {
	v := h.sharedData[key]
	if cas != 0 && cas != v.cas {
		return types.StatusCasMismatch
	}
	h.sharedData[key] = sharedValue{value: slices.Clone(value), cas: v.cas + 1}
	return types.StatusOK
}

func (h hostABI) RegisterSharedQueue(name string) (uint32, types.Status) {
	if id, ok := h.queueIDs[name]; ok {
		return id, types.StatusOK
	}
	id := uint32(len(h.queueIDs) + 1)
	h.queueIDs[name] = id
	h.queues[id] = nil
	return id, types.StatusOK
}

func (h hostABI) ResolveSharedQueue(vmID, name string) (uint32, types.Status) {
	if id, ok := h.queueIDs[name]; ok {
		return id, types.StatusOK
	}
	return 0, types.StatusNotFound
}

func (h hostABI) EnqueueSharedQueue(queueID uint32, value []byte) types.Status {
	q, ok := h.queues[queueID]
	if !ok {
		return types.StatusNotFound
	}
	h.queues[queueID] = append(q, slices.Clone(value))
	// As the upstream emulator (and a host, on the VM that registered the
	// queue): an enqueue makes the plugin's OnQueueReady run.
	prev, prevVM := h.active, vmstate.ActiveContextID()
	h.active = PluginContextID
	vmstate.OnQueueReady(PluginContextID, queueID)
	h.active = prev
	vmstate.SetEffective(prevVM)
	return types.StatusOK
}

func (h hostABI) DequeueSharedQueue(queueID uint32) ([]byte, types.Status) {
	q, ok := h.queues[queueID]
	if !ok {
		return nil, types.StatusNotFound
	}
	if len(q) == 0 {
		return nil, types.StatusEmpty
	}
	h.queues[queueID] = q[1:]
	return q[0], types.StatusOK
}

func (h hostABI) DefineMetric(t types.MetricType, name string) (uint32, types.Status) {
	if t > types.MetricTypeHistogram {
		return 0, types.StatusBadArgument
	}
	if id, ok := h.metricIDs[name]; ok {
		return id, types.StatusOK
	}
	id := uint32(len(h.metricIDs) + 1)
	h.metricIDs[name] = id
	h.metrics[id] = &metric{kind: t}
	return id, types.StatusOK
}

func (h hostABI) IncrementMetric(id uint32, delta int64) types.Status {
	m, ok := h.metrics[id]
	if !ok {
		return types.StatusNotFound
	}
	if m.kind == types.MetricTypeCounter && delta < 0 {
		return types.StatusBadArgument
	}
	m.value = uint64(int64(m.value) + delta)
	return types.StatusOK
}

func (h hostABI) RecordMetric(id uint32, value uint64) types.Status {
	m, ok := h.metrics[id]
	if !ok {
		return types.StatusNotFound
	}
	m.value = value
	return types.StatusOK
}

func (h hostABI) GetMetric(id uint32) (uint64, types.Status) {
	m, ok := h.metrics[id]
	if !ok {
		return 0, types.StatusNotFound
	}
	return m.value, types.StatusOK
}

// serialize and deserialize implement the spec's header map format
// independently of the SDK's, so a bug in one shows up against the other.
func serialize(pairs [][2]string) []byte {
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, uint32(len(pairs)))
	for _, p := range pairs {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p[0])))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p[1])))
	}
	for _, p := range pairs {
		b = append(append(b, p[0]...), 0)
		b = append(append(b, p[1]...), 0)
	}
	return b
}

func deserialize(b []byte) ([][2]string, bool) {
	if len(b) == 0 || (len(b) == 1 && b[0] == 0) {
		return nil, true
	}
	if len(b) < 4 {
		return nil, false
	}
	n := int(binary.LittleEndian.Uint32(b))
	if 4+8*n > len(b) {
		return nil, false
	}
	pairs := make([][2]string, 0, n)
	off := 4 + 8*n
	for i := range n {
		ks := int(binary.LittleEndian.Uint32(b[4+8*i:]))
		vs := int(binary.LittleEndian.Uint32(b[8+8*i:]))
		if off+ks+1+vs+1 > len(b) || b[off+ks] != 0 || b[off+ks+1+vs] != 0 {
			return nil, false
		}
		pairs = append(pairs, [2]string{string(b[off : off+ks]), string(b[off+ks+1 : off+ks+1+vs])})
		off += ks + 1 + vs + 1
	}
	return pairs, true
}
