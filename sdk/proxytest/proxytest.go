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

// RootContextID is the id of the emulator's one plugin context.
const RootContextID uint32 = 1

var (
	liveMu sync.Mutex
	live   *state // the emulator installed in the SDK
)

// HostEmulator drives a filter's callbacks and records what it asked of the
// host.
type HostEmulator struct {
	*state
}

// NewHostEmulator installs a fresh emulated host, creates the plugin context
// and returns the host and a reset function to defer. Call StartVM and
// StartPlugin next, as a real host would.
func NewHostEmulator(opt *EmulatorOption) (host *HostEmulator, reset func()) {
	liveMu.Lock()
	defer liveMu.Unlock()
	s := &state{
		opt:         opt,
		nextID:      RootContextID + 1,
		logs:        map[types.LogLevel][]string{},
		streams:     map[uint32]*httpStream{},
		callouts:    map[uint32]*HttpCalloutAttribute{},
		sharedData:  map[string]sharedValue{},
		queueIDs:    map[string]uint32{},
		queues:      map[uint32][][]byte{},
		metricIDs:   map[string]uint32{},
		metrics:     map[uint32]*metric{},
		properties:  map[string][]byte{},
		nextCallout: 1,
	}
	for k, v := range opt.properties {
		s.properties[k] = v
	}
	vmstate.Reset()
	vmstate.SetVMContext(opt.vmContext)
	abi.SetHost(hostABI{s})
	live = s
	s.active = RootContextID
	vmstate.OnContextCreate(RootContextID, 0)
	return &HostEmulator{s}, func() {
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
func (h *HostEmulator) StartVM() types.OnVMStartStatus {
	h.active = RootContextID
	return types.OnVMStartStatus(vmstate.OnVMStart(RootContextID, len(h.opt.vmConfiguration)))
}

// StartPlugin calls proxy_on_configure.
func (h *HostEmulator) StartPlugin() types.OnPluginStartStatus {
	h.active = RootContextID
	return types.OnPluginStartStatus(vmstate.OnConfigure(RootContextID, len(h.opt.pluginConfiguration)))
}

// FinishVM runs the plugin context's done/delete; it reports what
// OnPluginDone returned.
func (h *HostEmulator) FinishVM() bool {
	h.active = RootContextID
	done := vmstate.OnDone(RootContextID)
	vmstate.OnDelete(RootContextID)
	return done
}

// InitializeHttpContext creates an HTTP stream context and returns its id.
func (h *HostEmulator) InitializeHttpContext() uint32 {
	id := h.nextID
	h.nextID++
	h.streams[id] = &httpStream{}
	h.active = id
	vmstate.OnContextCreate(id, RootContextID)
	return id
}

func (h *HostEmulator) stream(id uint32) *httpStream {
	s, ok := h.streams[id]
	if !ok {
		panic("proxytest: unknown HTTP context id; create one with InitializeHttpContext")
	}
	h.active = id
	return s
}

// CallOnRequestHeaders delivers request headers (include pseudo-headers such
// as :method and :path if the filter reads them).
func (h *HostEmulator) CallOnRequestHeaders(id uint32, headers [][2]string, endOfStream bool) types.Action {
	s := h.stream(id)
	s.reqHeaders = slices.Clone(headers)
	s.action = vmstate.OnRequestHeaders(id, len(headers), endOfStream)
	return s.action
}

// CallOnRequestBody delivers a request body chunk. While the filter pauses,
// chunks accumulate, as a buffering host would.
func (h *HostEmulator) CallOnRequestBody(id uint32, body []byte, endOfStream bool) types.Action {
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
func (h *HostEmulator) CallOnRequestTrailers(id uint32, trailers [][2]string) types.Action {
	s := h.stream(id)
	s.reqTrailers = slices.Clone(trailers)
	s.action = vmstate.OnRequestTrailers(id, len(trailers))
	return s.action
}

// CallOnResponseHeaders delivers response headers (include :status if the
// filter reads it).
func (h *HostEmulator) CallOnResponseHeaders(id uint32, headers [][2]string, endOfStream bool) types.Action {
	s := h.stream(id)
	s.respHeaders = slices.Clone(headers)
	s.action = vmstate.OnResponseHeaders(id, len(headers), endOfStream)
	return s.action
}

// CallOnResponseBody delivers a response body chunk; chunks accumulate while
// the filter pauses.
func (h *HostEmulator) CallOnResponseBody(id uint32, body []byte, endOfStream bool) types.Action {
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
func (h *HostEmulator) CallOnResponseTrailers(id uint32, trailers [][2]string) types.Action {
	s := h.stream(id)
	s.respTrailers = slices.Clone(trailers)
	s.action = vmstate.OnResponseTrailers(id, len(trailers))
	return s.action
}

// CompleteHttpContext ends the stream: proxy_on_done, proxy_on_log (the
// filter's OnHttpStreamDone), proxy_on_delete.
func (h *HostEmulator) CompleteHttpContext(id uint32) {
	s := h.stream(id)
	vmstate.OnDone(id)
	vmstate.OnLog(id)
	vmstate.OnDelete(id)
	s.deleted = true
}

// GetCurrentRequestHeaders returns the request headers as the filter left them.
func (h *HostEmulator) GetCurrentRequestHeaders(id uint32) [][2]string {
	return slices.Clone(h.stream(id).reqHeaders)
}

// GetCurrentRequestBody returns the request body as the filter left it.
func (h *HostEmulator) GetCurrentRequestBody(id uint32) []byte {
	return slices.Clone(h.stream(id).reqBody)
}

// GetCurrentRequestTrailers returns the request trailers as the filter left them.
func (h *HostEmulator) GetCurrentRequestTrailers(id uint32) [][2]string {
	return slices.Clone(h.stream(id).reqTrailers)
}

// GetCurrentResponseHeaders returns the response headers as the filter left them.
func (h *HostEmulator) GetCurrentResponseHeaders(id uint32) [][2]string {
	return slices.Clone(h.stream(id).respHeaders)
}

// GetCurrentResponseBody returns the response body as the filter left it.
func (h *HostEmulator) GetCurrentResponseBody(id uint32) []byte {
	return slices.Clone(h.stream(id).respBody)
}

// GetCurrentResponseTrailers returns the response trailers as the filter left them.
func (h *HostEmulator) GetCurrentResponseTrailers(id uint32) [][2]string {
	return slices.Clone(h.stream(id).respTrailers)
}

// GetCurrentHttpStreamAction returns the last action of the stream: what the
// last callback returned, or ActionContinue after a Resume call.
func (h *HostEmulator) GetCurrentHttpStreamAction(id uint32) types.Action {
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
func (h *HostEmulator) GetSentLocalResponse(id uint32) *LocalHttpResponse {
	return h.stream(id).local
}

// GetLogs returns the messages logged at level, in order.
func (h *HostEmulator) GetLogs(level types.LogLevel) []string {
	return slices.Clone(h.logs[level])
}

func (h *HostEmulator) GetTraceLogs() []string    { return h.GetLogs(types.LogLevelTrace) }
func (h *HostEmulator) GetDebugLogs() []string    { return h.GetLogs(types.LogLevelDebug) }
func (h *HostEmulator) GetInfoLogs() []string     { return h.GetLogs(types.LogLevelInfo) }
func (h *HostEmulator) GetWarnLogs() []string     { return h.GetLogs(types.LogLevelWarn) }
func (h *HostEmulator) GetErrorLogs() []string    { return h.GetLogs(types.LogLevelError) }
func (h *HostEmulator) GetCriticalLogs() []string { return h.GetLogs(types.LogLevelCritical) }

// GetTickPeriod returns what the filter set with SetTickPeriodMilliSeconds.
func (h *HostEmulator) GetTickPeriod() uint32 { return h.tickPeriod }

// Tick calls proxy_on_tick.
func (h *HostEmulator) Tick() {
	h.active = RootContextID
	vmstate.OnTick(RootContextID)
}

// CallOnQueueReady calls proxy_on_queue_ready.
func (h *HostEmulator) CallOnQueueReady(queueID uint32) {
	h.active = RootContextID
	vmstate.OnQueueReady(RootContextID, queueID)
}

// GetQueueItems returns what is enqueued on a queue.
func (h *HostEmulator) GetQueueItems(queueID uint32) [][]byte { return slices.Clone(h.queues[queueID]) }

// HttpCalloutAttribute is an HTTP call the filter dispatched.
type HttpCalloutAttribute struct {
	CalloutID uint32
	Upstream  string
	Headers   [][2]string
	Trailers  [][2]string
	Body      []byte
	contextID uint32
}

// GetCalloutAttributesFromContext returns the pending calls dispatched from a context.
func (h *HostEmulator) GetCalloutAttributesFromContext(contextID uint32) []HttpCalloutAttribute {
	var out []HttpCalloutAttribute
	for _, c := range h.callouts {
		if c.contextID == contextID {
			out = append(out, *c)
		}
	}
	slices.SortFunc(out, func(a, b HttpCalloutAttribute) int { return int(a.CalloutID) - int(b.CalloutID) })
	return out
}

// CallOnHttpCallResponse delivers the response of a dispatched call.
func (h *HostEmulator) CallOnHttpCallResponse(calloutID uint32, headers, trailers [][2]string, body []byte) {
	if _, ok := h.callouts[calloutID]; !ok {
		panic("proxytest: unknown callout id")
	}
	delete(h.callouts, calloutID)
	h.callout = &calloutResponse{headers: headers, trailers: trailers, body: body}
	defer func() { h.callout = nil }()
	h.active = RootContextID
	vmstate.OnHttpCallResponse(RootContextID, calloutID, len(headers), len(body), len(trailers))
}

// GetCounterMetric returns a counter's value by name.
func (h *HostEmulator) GetCounterMetric(name string) (uint64, error) {
	return h.metricValue(name, types.MetricTypeCounter)
}

// GetGaugeMetric returns a gauge's value by name.
func (h *HostEmulator) GetGaugeMetric(name string) (int64, error) {
	v, err := h.metricValue(name, types.MetricTypeGauge)
	return int64(v), err
}

// GetHistogramMetric returns a histogram's last recorded value by name.
func (h *HostEmulator) GetHistogramMetric(name string) (uint64, error) {
	return h.metricValue(name, types.MetricTypeHistogram)
}

func (h *HostEmulator) metricValue(name string, t types.MetricType) (uint64, error) {
	id, ok := h.metricIDs[name]
	if !ok || h.metrics[id].kind != t {
		return 0, types.ErrorStatusNotFound
	}
	return h.metrics[id].value, nil
}

// GetProperty returns a property as the filter left it.
func (h *HostEmulator) GetProperty(path []string) ([]byte, error) {
	v, ok := h.properties[strings.Join(path, "\x00")]
	if !ok {
		return nil, types.ErrorStatusNotFound
	}
	return v, nil
}

// SetProperty sets a property the filter can read.
func (h *HostEmulator) SetProperty(path []string, value []byte) {
	h.properties[strings.Join(path, "\x00")] = value
}

// IsPluginDone reports whether the filter called PluginDone.
func (h *HostEmulator) IsPluginDone() bool { return h.pluginDone }
