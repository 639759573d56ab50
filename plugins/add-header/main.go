// Command add-header is the minimal wasmgate filter: it adds one request
// header. It is the guest of the Wasm overhead benchmark, so its request path
// is one host call and no allocation.
package main

import (
	"github.com/wasmgate/wasmgate/plugins/internal/jsonx"
	"github.com/wasmgate/wasmgate/sdk/proxywasm"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

func main() {}

func init() { proxywasm.SetVMContext(&vmContext{}) }

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(uint32) types.PluginContext {
	return &pluginContext{name: "x-wasm", value: "add-header"}
}

type pluginContext struct {
	types.DefaultPluginContext
	name, value string
}

// OnPluginStart reads {"name": "...", "value": "..."}; both are optional.
func (p *pluginContext) OnPluginStart(int) types.OnPluginStartStatus {
	data, err := proxywasm.GetPluginConfiguration()
	if err != nil && err != types.ErrorStatusNotFound {
		proxywasm.LogCritical("add-header: reading the configuration: " + err.Error())
		return types.OnPluginStartStatusFailed
	}
	if len(data) == 0 {
		return types.OnPluginStartStatusOK
	}
	cfg, err := jsonx.Parse(data)
	if err != nil || cfg.Kind != jsonx.Object {
		proxywasm.LogCritical(`add-header: the configuration must be a JSON object like {"name": "x-hello", "value": "world"}`)
		return types.OnPluginStartStatusFailed
	}
	for _, m := range cfg.Members {
		if m.Val.Kind != jsonx.String || (m.Key != "name" && m.Key != "value") {
			proxywasm.LogCritical(`add-header: unknown or non-string field "` + m.Key + `"; valid: "name", "value" (strings)`)
			return types.OnPluginStartStatusFailed
		}
	}
	if v := cfg.Get("name"); v != nil {
		if v.Str == "" {
			proxywasm.LogCritical(`add-header: "name" must not be empty`)
			return types.OnPluginStartStatusFailed
		}
		p.name = v.Str
	}
	if v := cfg.Get("value"); v != nil {
		p.value = v.Str
	}
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) NewHttpContext(uint32) types.HttpContext { return &httpContext{plugin: p} }

type httpContext struct {
	types.DefaultHttpContext
	plugin *pluginContext
}

func (h *httpContext) OnHttpRequestHeaders(int, bool) types.Action {
	if err := proxywasm.AddHttpRequestHeader(h.plugin.name, h.plugin.value); err != nil {
		proxywasm.LogError("add-header: " + err.Error())
	}
	return types.ActionContinue
}
