// Command goguest is a Go-SDK test guest for the host features beyond the
// HTTP callbacks: on each request it dispatches a callout to the upstream
// "backend" and pauses; the response body becomes the x-token request
// header and the request resumes. It also counts requests in a counter
// metric and in shared data (get, then a CAS set, retried on mismatch),
// and counts ticks (every 10ms). Built by `go generate ./filters/wasm/`:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o ../goguest.wasm .
package main

import (
	"encoding/binary"
	"errors"

	"github.com/wasmgate/wasmgate/sdk/proxywasm"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

func main() {}

func init() { proxywasm.SetVMContext(&vmContext{}) }

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(uint32) types.PluginContext { return &pluginContext{} }

type pluginContext struct {
	types.DefaultPluginContext
	requests, ticks proxywasm.MetricCounter
}

func (p *pluginContext) OnPluginStart(int) types.OnPluginStartStatus {
	p.requests = proxywasm.DefineCounterMetric("go_requests")
	p.ticks = proxywasm.DefineCounterMetric("go_ticks")
	if err := proxywasm.SetTickPeriodMilliSeconds(10); err != nil {
		return types.OnPluginStartStatusFailed
	}
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) OnTick() { p.ticks.Increment(1) }

func (p *pluginContext) NewHttpContext(uint32) types.HttpContext { return &httpContext{p: p} }

type httpContext struct {
	types.DefaultHttpContext
	p *pluginContext
}

func (h *httpContext) OnHttpRequestHeaders(int, bool) types.Action {
	h.p.requests.Increment(1)
	countShared()
	_, err := proxywasm.DispatchHttpCall("backend",
		[][2]string{{":method", "GET"}, {":path", "/token"}, {":authority", "backend"}}, nil, nil, 1000,
		func(numHeaders, bodySize, _ int) {
			if numHeaders == 0 {
				_ = proxywasm.SendHttpResponse(502, nil, []byte("callout failed"), -1)
				return
			}
			body, _ := proxywasm.GetHttpCallResponseBody(0, bodySize)
			_ = proxywasm.ReplaceHttpRequestHeader("x-token", string(body))
			_ = proxywasm.ResumeHttpRequest()
		})
	if err != nil {
		_ = proxywasm.SendHttpResponse(500, nil, []byte("dispatch: "+err.Error()), -1)
	}
	return types.ActionPause
}

// countShared adds one to the shared counter "n" with a CAS loop.
func countShared() {
	for range 10 {
		v, cas, err := proxywasm.GetSharedData("n")
		var n uint64
		if err == nil && len(v) == 8 {
			n = binary.LittleEndian.Uint64(v)
		}
		err = proxywasm.SetSharedData("n", binary.LittleEndian.AppendUint64(nil, n+1), cas)
		if !errors.Is(err, types.ErrorStatusCasMismatch) {
			return
		}
	}
}
