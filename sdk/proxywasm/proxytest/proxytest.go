// Package proxytest runs a filter natively, against an emulated Proxy-Wasm
// host, so it can be unit-tested with plain `go test` (no Wasm build, no
// gateway):
//
//	opt := proxytest.NewEmulatorOption().
//		WithVMContext(&vmContext{}).
//		WithPluginConfiguration([]byte(`{"header":"x-hello"}`))
//	host, reset := proxytest.NewHostEmulator(opt)
//	defer reset()
//	host.StartVM()
//	host.StartPlugin()
//	id := host.InitializeHttpContext()
//	action := host.CallOnRequestHeaders(id, [][2]string{{":path", "/"}}, true)
//	headers := host.GetCurrentRequestHeaders(id)
//
// The SDK keeps its contexts in package state, as a Wasm module does, so one
// emulator is live at a time: a new one replaces the previous one (whose
// reset then does nothing). Do not use t.Parallel with it.
//
// The emulator runs natively only; the same filter built for wasip1 runs in
// the real host (see filters/wasm and `wasmgate plugin test`).
package proxytest

import (
	"slices"
	"strings"
	"sync"

	"github.com/wasmgate/wasmgate/sdk/internal/abi"
	"github.com/wasmgate/wasmgate/sdk/internal/vmstate"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

// PluginContextID is the id of the emulator's one plugin context.
const PluginContextID uint32 = 1

var (
	liveMu sync.Mutex
	live   *state // the emulator installed in the SDK
)

// HostEmulator drives a filter's callbacks and records what it asked of the
// host. Its methods are those of the upstream SDK's emulator, plus a few
// (trailers, queues, log levels) that it lacks.
type HostEmulator interface {
	// Lifecycle of the plugin context.
	StartVM() types.OnVMStartStatus
	StartPlugin() types.OnPluginStartStatus
	FinishVM() bool
	IsPluginDone() bool

	// Logs by level, in order.
	GetLogs(level types.LogLevel) []string
	GetTraceLogs() []string
	GetDebugLogs() []string
	GetInfoLogs() []string
	GetWarnLogs() []string
	GetErrorLogs() []string
	GetCriticalLogs() []string

	// Ticks, queues, foreign functions, metrics, properties.
	GetTickPeriod() uint32
	Tick()
	CallOnQueueReady(queueID uint32)
	GetQueueSize(queueID uint32) int
	GetQueueItems(queueID uint32) [][]byte
	RegisterForeignFunction(name string, f func([]byte) []byte)
	GetCounterMetric(name string) (uint64, error)
	GetGaugeMetric(name string) (uint64, error)
	GetHistogramMetric(name string) (uint64, error)
	GetProperty(path []string) ([]byte, error)
	SetProperty(path []string, data []byte) error

	// HTTP callouts.
	GetCalloutAttributesFromContext(contextID uint32) []HttpCalloutAttribute
	CallOnHttpCallResponse(calloutID uint32, headers, trailers [][2]string, body []byte)

	// HTTP streams.
	InitializeHttpContext() (contextID uint32)
	CallOnRequestHeaders(contextID uint32, headers [][2]string, endOfStream bool) types.Action
	CallOnRequestBody(contextID uint32, body []byte, endOfStream bool) types.Action
	CallOnRequestTrailers(contextID uint32, trailers [][2]string) types.Action
	CallOnResponseHeaders(contextID uint32, headers [][2]string, endOfStream bool) types.Action
	CallOnResponseBody(contextID uint32, body []byte, endOfStream bool) types.Action
	CallOnResponseTrailers(contextID uint32, trailers [][2]string) types.Action
	CompleteHttpContext(contextID uint32)
	GetCurrentHttpStreamAction(contextID uint32) types.Action
	GetCurrentRequestHeaders(contextID uint32) [][2]string
	GetCurrentRequestBody(contextID uint32) []byte
	GetCurrentRequestTrailers(contextID uint32) [][2]string
	GetCurrentResponseHeaders(contextID uint32) [][2]string
	GetCurrentResponseBody(contextID uint32) []byte
	GetCurrentResponseTrailers(contextID uint32) [][2]string
	GetSentLocalResponse(contextID uint32) *LocalHttpResponse

	// TCP connections.
	InitializeConnection() (contextID uint32, action types.Action)
	CallOnDownstreamData(contextID uint32, data []byte) types.Action
	CallOnUpstreamData(contextID uint32, data []byte) types.Action
	CloseDownstreamConnection(contextID uint32)
	CloseUpstreamConnection(contextID uint32)
	CompleteConnection(contextID uint32)
	GetCurrentDownstreamData(contextID uint32) []byte
	GetCurrentUpstreamData(contextID uint32) []byte
}

type hostEmulator struct {
	*state
}

var _ HostEmulator = (*hostEmulator)(nil)

// NewHostEmulator installs a fresh emulated host, creates the plugin context
// and returns the host and a reset function to defer. Call StartVM and
// StartPlugin next, as a real host would.
func NewHostEmulator(opt *EmulatorOption) (host HostEmulator, reset func()) {
	liveMu.Lock()
	defer liveMu.Unlock()
	s := &state{
		opt:        opt,
		nextID:     PluginContextID + 1,
		logs:       map[types.LogLevel][]string{},
		streams:    map[uint32]*httpStream{},
		callouts:   map[uint32][]HttpCalloutAttribute{},
		pending:    map[uint32]uint32{},
		conns:      map[uint32]*tcpConn{},
		foreign:    map[string]func([]byte) []byte{},
		sharedData: map[string]sharedValue{},
		queueIDs:   map[string]uint32{},
		queues:     map[uint32][][]byte{},
		metricIDs:  map[string]uint32{},
		metrics:    map[uint32]*metric{},
		properties: map[string][]byte{},
	}
	for k, v := range opt.properties {
		s.properties[k] = v
	}
	vmstate.Reset()
	if opt.vmContext != nil { // else the filter registered in its init function
		vmstate.Use(opt.vmContext)
	}
	abi.SetHost(hostABI{s})
	live = s
	s.active = PluginContextID
	vmstate.OnContextCreate(PluginContextID, 0)
	return &hostEmulator{s}, func() {
		liveMu.Lock()
		defer liveMu.Unlock()
		if live == s {
			vmstate.Reset()
			abi.SetHost(nil)
			live = nil
		}
	}
}

// StartVM calls proxy_on_vm_start.
func (h *hostEmulator) StartVM() types.OnVMStartStatus {
	h.active = PluginContextID
	return types.OnVMStartStatus(vmstate.OnVMStart(PluginContextID, len(h.opt.vmConfiguration)))
}

// StartPlugin calls proxy_on_configure.
func (h *hostEmulator) StartPlugin() types.OnPluginStartStatus {
	h.active = PluginContextID
	return types.OnPluginStartStatus(vmstate.OnConfigure(PluginContextID, len(h.opt.pluginConfiguration)))
}

// FinishVM runs the plugin context's done/delete; it reports what
// OnPluginDone returned.
func (h *hostEmulator) FinishVM() bool {
	h.active = PluginContextID
	done := vmstate.OnDone(PluginContextID)
	vmstate.OnDelete(PluginContextID)
	return done
}

// InitializeHttpContext creates an HTTP stream context and returns its id.
func (h *hostEmulator) InitializeHttpContext() uint32 {
	id := h.nextID
	h.nextID++
	h.streams[id] = &httpStream{}
	h.active = id
	vmstate.OnContextCreate(id, PluginContextID)
	return id
}

func (h *hostEmulator) stream(id uint32) *httpStream {
	s, ok := h.streams[id]
	if !ok {
		panic("proxytest: unknown HTTP context id; create one with InitializeHttpContext")
	}
	h.active = id
	return s
}

// CallOnRequestHeaders delivers request headers (include pseudo-headers such
// as :method and :path if the filter reads them).
func (h *hostEmulator) CallOnRequestHeaders(id uint32, headers [][2]string, endOfStream bool) types.Action {
	s := h.stream(id)
	s.reqHeaders = lowerKeys(headers)
	s.action = vmstate.OnRequestHeaders(id, len(headers), endOfStream)
	return s.action
}

// CallOnRequestBody delivers a request body chunk. While the filter pauses,
// chunks accumulate, as a buffering host would.
func (h *hostEmulator) CallOnRequestBody(id uint32, body []byte, endOfStream bool) types.Action {
	s := h.stream(id)
	if s.reqBodyPaused {
		s.reqBody = append(s.reqBody, body...)
	} else {
		s.reqBody = slices.Clone(body)
	}
	s.action = vmstate.OnRequestBody(id, len(s.reqBody), endOfStream)
	s.reqBodyPaused = s.action != types.ActionContinue && s.local == nil
	return s.action
}

// CallOnRequestTrailers delivers request trailers.
func (h *hostEmulator) CallOnRequestTrailers(id uint32, trailers [][2]string) types.Action {
	s := h.stream(id)
	s.reqTrailers = lowerKeys(trailers)
	s.action = vmstate.OnRequestTrailers(id, len(trailers))
	return s.action
}

// CallOnResponseHeaders delivers response headers (include :status if the
// filter reads it).
func (h *hostEmulator) CallOnResponseHeaders(id uint32, headers [][2]string, endOfStream bool) types.Action {
	s := h.stream(id)
	s.respHeaders = lowerKeys(headers)
	s.action = vmstate.OnResponseHeaders(id, len(headers), endOfStream)
	return s.action
}

// CallOnResponseBody delivers a response body chunk; chunks accumulate while
// the filter pauses.
func (h *hostEmulator) CallOnResponseBody(id uint32, body []byte, endOfStream bool) types.Action {
	s := h.stream(id)
	if s.respBodyPaused {
		s.respBody = append(s.respBody, body...)
	} else {
		s.respBody = slices.Clone(body)
	}
	s.action = vmstate.OnResponseBody(id, len(s.respBody), endOfStream)
	s.respBodyPaused = s.action != types.ActionContinue && s.local == nil
	return s.action
}

// CallOnResponseTrailers delivers response trailers.
func (h *hostEmulator) CallOnResponseTrailers(id uint32, trailers [][2]string) types.Action {
	s := h.stream(id)
	s.respTrailers = lowerKeys(trailers)
	s.action = vmstate.OnResponseTrailers(id, len(trailers))
	return s.action
}

// CompleteHttpContext ends the stream: proxy_on_done, proxy_on_log (the
// filter's OnHttpStreamDone), proxy_on_delete.
func (h *hostEmulator) CompleteHttpContext(id uint32) {
	s := h.stream(id)
	vmstate.OnDone(id)
	vmstate.OnLog(id)
	vmstate.OnDelete(id)
	s.deleted = true
}

// GetCurrentRequestHeaders returns the request headers as the filter left them.
func (h *hostEmulator) GetCurrentRequestHeaders(id uint32) [][2]string {
	return slices.Clone(h.stream(id).reqHeaders)
}

// GetCurrentRequestBody returns the request body as the filter left it.
func (h *hostEmulator) GetCurrentRequestBody(id uint32) []byte {
	return slices.Clone(h.stream(id).reqBody)
}

// GetCurrentRequestTrailers returns the request trailers as the filter left them.
func (h *hostEmulator) GetCurrentRequestTrailers(id uint32) [][2]string {
	return slices.Clone(h.stream(id).reqTrailers)
}

// GetCurrentResponseHeaders returns the response headers as the filter left them.
func (h *hostEmulator) GetCurrentResponseHeaders(id uint32) [][2]string {
	return slices.Clone(h.stream(id).respHeaders)
}

// GetCurrentResponseBody returns the response body as the filter left it.
func (h *hostEmulator) GetCurrentResponseBody(id uint32) []byte {
	return slices.Clone(h.stream(id).respBody)
}

// GetCurrentResponseTrailers returns the response trailers as the filter left them.
func (h *hostEmulator) GetCurrentResponseTrailers(id uint32) [][2]string {
	return slices.Clone(h.stream(id).respTrailers)
}

// GetCurrentHttpStreamAction returns the last action of the stream: what the
// last callback returned, or ActionContinue after a Resume call.
func (h *hostEmulator) GetCurrentHttpStreamAction(id uint32) types.Action {
	return h.stream(id).action
}

// LocalHttpResponse is what the filter sent with SendHttpResponse.
type LocalHttpResponse struct {
	StatusCode       uint32
	StatusCodeDetail string
	Data             []byte
	Headers          [][2]string
	GRPCStatus       int32
}

// GetSentLocalResponse returns the local response of the stream, or nil.
func (h *hostEmulator) GetSentLocalResponse(id uint32) *LocalHttpResponse {
	return h.stream(id).local
}

// GetLogs returns the messages logged at level, in order.
func (h *hostEmulator) GetLogs(level types.LogLevel) []string {
	return slices.Clone(h.logs[level])
}

func (h *hostEmulator) GetTraceLogs() []string    { return h.GetLogs(types.LogLevelTrace) }
func (h *hostEmulator) GetDebugLogs() []string    { return h.GetLogs(types.LogLevelDebug) }
func (h *hostEmulator) GetInfoLogs() []string     { return h.GetLogs(types.LogLevelInfo) }
func (h *hostEmulator) GetWarnLogs() []string     { return h.GetLogs(types.LogLevelWarn) }
func (h *hostEmulator) GetErrorLogs() []string    { return h.GetLogs(types.LogLevelError) }
func (h *hostEmulator) GetCriticalLogs() []string { return h.GetLogs(types.LogLevelCritical) }

// GetTickPeriod returns what the filter set with SetTickPeriodMilliSeconds.
func (h *hostEmulator) GetTickPeriod() uint32 { return h.tickPeriod }

// Tick calls proxy_on_tick.
func (h *hostEmulator) Tick() {
	h.active = PluginContextID
	vmstate.OnTick(PluginContextID)
}

// CallOnQueueReady calls proxy_on_queue_ready.
func (h *hostEmulator) CallOnQueueReady(queueID uint32) {
	h.active = PluginContextID
	vmstate.OnQueueReady(PluginContextID, queueID)
}

// GetQueueSize returns the number of items waiting on a queue.
func (h *hostEmulator) GetQueueSize(queueID uint32) int { return len(h.queues[queueID]) }

// RegisterForeignFunction defines a function the filter can call with
// proxywasm.CallForeignFunction.
func (h *hostEmulator) RegisterForeignFunction(name string, f func([]byte) []byte) {
	h.foreign[name] = f
}

// GetQueueItems returns what is enqueued on a queue.
func (h *hostEmulator) GetQueueItems(queueID uint32) [][]byte { return slices.Clone(h.queues[queueID]) }

// HttpCalloutAttribute is an HTTP call the filter dispatched.
type HttpCalloutAttribute struct {
	CalloutID uint32
	Upstream  string
	Headers   [][2]string
	Trailers  [][2]string
	Body      []byte
}

// GetCalloutAttributesFromContext returns every call dispatched from a
// context, answered or not, in order (as the upstream emulator does).
func (h *hostEmulator) GetCalloutAttributesFromContext(contextID uint32) []HttpCalloutAttribute {
	return slices.Clone(h.callouts[contextID])
}

// CallOnHttpCallResponse delivers the response of a dispatched call. The
// id of an answered call is free again for the next dispatch, as in the
// upstream emulator.
func (h *hostEmulator) CallOnHttpCallResponse(calloutID uint32, headers, trailers [][2]string, body []byte) {
	h.callout = &calloutResponse{headers: lowerKeys(headers), trailers: lowerKeys(trailers), body: body}
	defer func() {
		h.callout = nil
		delete(h.pending, calloutID)
	}()
	h.active = PluginContextID
	vmstate.OnHttpCallResponse(PluginContextID, calloutID, len(headers), len(body), len(trailers))
}

// GetCounterMetric returns a counter's value by name.
func (h *hostEmulator) GetCounterMetric(name string) (uint64, error) {
	return h.metricValue(name, types.MetricTypeCounter)
}

// GetGaugeMetric returns a gauge's value by name (a negative gauge reads as
// its two's complement, as in the upstream emulator).
func (h *hostEmulator) GetGaugeMetric(name string) (uint64, error) {
	return h.metricValue(name, types.MetricTypeGauge)
}

// GetHistogramMetric returns a histogram's last recorded value by name.
func (h *hostEmulator) GetHistogramMetric(name string) (uint64, error) {
	return h.metricValue(name, types.MetricTypeHistogram)
}

func (h *hostEmulator) metricValue(name string, t types.MetricType) (uint64, error) {
	id, ok := h.metricIDs[name]
	if !ok || h.metrics[id].kind != t {
		return 0, types.ErrorStatusNotFound
	}
	return h.metrics[id].value, nil
}

// GetProperty returns a property as the filter left it.
func (h *hostEmulator) GetProperty(path []string) ([]byte, error) {
	v, ok := h.properties[strings.Join(path, "\x00")]
	if !ok {
		return nil, types.ErrorStatusNotFound
	}
	return v, nil
}

// SetProperty sets a property the filter can read.
func (h *hostEmulator) SetProperty(path []string, value []byte) error {
	h.properties[strings.Join(path, "\x00")] = value
	return nil
}

// IsPluginDone reports whether the filter called PluginDone.
func (h *hostEmulator) IsPluginDone() bool { return h.pluginDone }

func lowerKeys(pairs [][2]string) [][2]string {
	out := make([][2]string, len(pairs))
	for i, p := range pairs {
		out[i] = [2]string{strings.ToLower(p[0]), p[1]}
	}
	return out
}
