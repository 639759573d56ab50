// Probe is the guest the wasmgate plugin test tests run: each request path
// exercises one thing the command must show. Rebuild probe.wasm with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags='-s -w' -o probe.wasm .
package main

import (
	"strconv"

	"github.com/wasmgate/wasmgate/sdk/proxywasm"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

func main() {}

func init() { proxywasm.SetVMContext(&vm{}) }

type vm struct{ types.DefaultVMContext }

func (*vm) OnVMStart(int) types.OnVMStartStatus {
	proxywasm.LogDebug("probe: vm started (debug)")
	proxywasm.LogInfo("probe: vm started")
	return types.OnVMStartStatusOK
}

func (*vm) NewPluginContext(uint32) types.PluginContext { return &plugin{} }

type plugin struct{ types.DefaultPluginContext }

func (*plugin) OnPluginStart(int) types.OnPluginStartStatus {
	data, _ := proxywasm.GetPluginConfiguration()
	proxywasm.LogInfo("probe: configured with " + strconv.Quote(string(data)))
	return types.OnPluginStartStatusOK
}

func (*plugin) NewHttpContext(uint32) types.HttpContext { return &stream{} }

type stream struct{ types.DefaultHttpContext }

func (*stream) OnHttpRequestHeaders(int, bool) types.Action {
	path, _ := proxywasm.GetHttpRequestHeader(":path")
	proxywasm.LogDebug("probe: request " + path)
	switch path {
	case "/length":
		n, err := proxywasm.GetHttpRequestHeader("content-length")
		if err != nil {
			n = "none"
		}
		_ = proxywasm.AddHttpRequestHeader("x-seen-length", n)
	case "/callout":
		_, err := proxywasm.DispatchHttpCall("auth", [][2]string{{":method", "GET"}, {":path", "/check"}, {":authority", "auth"}},
			nil, nil, 1000, func(_, bodySize, _ int) {
				var status string
				headers, _ := proxywasm.GetHttpCallResponseHeaders()
				for _, h := range headers {
					if h[0] == ":status" {
						status = h[1]
					}
				}
				body, _ := proxywasm.GetHttpCallResponseBody(0, bodySize)
				_ = proxywasm.AddHttpRequestHeader("x-auth", status+":"+string(body))
				_ = proxywasm.ResumeHttpRequest()
			})
		if err != nil {
			proxywasm.LogErrorf("probe: callout: %v", err)
			return types.ActionContinue
		}
		return types.ActionPause
	case "/hold":
		return types.ActionPause // and nothing resumes it
	case "/trap":
		panic("probe: trap on purpose")
	}
	return types.ActionContinue
}
