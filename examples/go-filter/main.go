// Command go-filter is the example of the plugin-author tutorial (README.md):
// it greets every request with a configurable header, refuses requests
// without an X-Tenant header, and tags responses.
package main

import (
	"github.com/wasmgate/wasmgate/sdk/proxywasm"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

// main is required but never runs: a c-shared module starts with _initialize,
// which runs init functions only.
func main() {}

func init() { proxywasm.SetVMContext(&vmContext{}) }

// vmContext is created once per Wasm VM.
type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(uint32) types.PluginContext {
	return &pluginContext{greeting: "hello"}
}

// pluginContext holds the parsed configuration; one per plugin config.
type pluginContext struct {
	types.DefaultPluginContext
	greeting string
}

// OnPluginStart reads the plugin configuration. wasmgate hands over the
// plugin's `config:` as compact JSON; this filter takes a plain string
// instead (`config: "hi"` in YAML), to keep the example free of parsing.
func (p *pluginContext) OnPluginStart(int) types.OnPluginStartStatus {
	data, err := proxywasm.GetPluginConfiguration()
	if err == nil && len(data) > 0 {
		p.greeting = string(data)
	}
	proxywasm.LogInfo("go-filter: greeting is " + p.greeting)
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) NewHttpContext(uint32) types.HttpContext {
	return &httpContext{greeting: p.greeting}
}

// httpContext handles one request/response pair.
type httpContext struct {
	types.DefaultHttpContext
	greeting string
	tenant   string
}

func (h *httpContext) OnHttpRequestHeaders(int, bool) types.Action {
	tenant, err := proxywasm.GetHttpRequestHeader("x-tenant")
	if err != nil {
		body := []byte(`{"error":"the X-Tenant header is required","status":400}`)
		_ = proxywasm.SendHttpResponse(400, [][2]string{{"content-type", "application/json"}}, body, -1)
		return types.ActionPause // the local response ends the exchange
	}
	h.tenant = tenant
	_ = proxywasm.ReplaceHttpRequestHeader("x-greeting", h.greeting+", "+tenant)
	return types.ActionContinue
}

func (h *httpContext) OnHttpResponseHeaders(int, bool) types.Action {
	_ = proxywasm.AddHttpResponseHeader("x-served-for", h.tenant)
	return types.ActionContinue
}

// OnHttpStreamDone runs once per exchange; headers are still readable.
func (h *httpContext) OnHttpStreamDone() {
	if proxywasm.LogLevelEnabled(types.LogLevelDebug) {
		path, _ := proxywasm.GetHttpRequestHeader(":path")
		proxywasm.LogDebug("go-filter: done " + path + " for " + h.tenant)
	}
}
