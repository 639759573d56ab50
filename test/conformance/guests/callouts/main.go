// Command callouts dispatches ten callouts at once from
// OnHttpRequestHeaders, each with an empty :authority (Envoy fills in the
// upstream's host), pauses, and resumes the request when the tenth answer
// is in, with the answers' statuses and bodies in request headers. With
// "x-mode: continue" it dispatches one callout to /slow and lets the
// request proceed (Continue) without waiting for it.
package main

import (
	"strconv"
	"strings"

	"github.com/wasmgate/wasmgate/sdk/proxywasm"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

const n = 10

func main() {}

func init() { proxywasm.SetVMContext(&vmContext{}) }

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(uint32) types.PluginContext { return &pluginContext{} }

type pluginContext struct{ types.DefaultPluginContext }

func (*pluginContext) NewHttpContext(uint32) types.HttpContext { return &httpContext{} }

type httpContext struct {
	types.DefaultHttpContext
	answered int
	bodies   []string
	statuses []string
}

func headers(path string) [][2]string {
	return [][2]string{{":method", "GET"}, {":path", path}, {":authority", ""}}
}

func (h *httpContext) OnHttpRequestHeaders(int, bool) types.Action {
	if mode, _ := proxywasm.GetHttpRequestHeader("x-mode"); mode == "continue" {
		if _, err := proxywasm.DispatchHttpCall("backend", headers("/slow"), nil, nil, 5000, func(int, int, int) {}); err != nil {
			proxywasm.LogError("callouts: " + err.Error())
		}
		return types.ActionContinue
	}
	for i := range n {
		_, err := proxywasm.DispatchHttpCall("backend", headers("/echo/"+strconv.Itoa(i)), nil, nil, 5000,
			func(_, bodySize, _ int) { h.answer(bodySize) })
		if err != nil {
			_ = proxywasm.SendHttpResponse(500, nil, []byte("dispatch "+strconv.Itoa(i)+": "+err.Error()), -1)
			return types.ActionPause
		}
	}
	return types.ActionPause
}

func (h *httpContext) answer(bodySize int) {
	h.answered++
	status := "none"
	if hs, err := proxywasm.GetHttpCallResponseHeaders(); err == nil {
		for _, kv := range hs {
			if kv[0] == ":status" {
				status = kv[1]
			}
		}
	}
	h.statuses = append(h.statuses, status)
	if body, err := proxywasm.GetHttpCallResponseBody(0, bodySize); err == nil {
		h.bodies = append(h.bodies, string(body))
	}
	if h.answered < n {
		return
	}
	_ = proxywasm.AddHttpRequestHeader("x-callouts", strconv.Itoa(h.answered))
	_ = proxywasm.AddHttpRequestHeader("x-callout-statuses", strings.Join(h.statuses, ","))
	_ = proxywasm.AddHttpRequestHeader("x-callout-bodies", strings.Join(h.bodies, ","))
	_ = proxywasm.ResumeHttpRequest()
}
