// Command tenant-route sends each request to its tenant's backend by
// rewriting :authority from a request header, in the style of the upstream
// proxy-wasm-go-sdk examples. Replacing :authority makes the host choose
// the route again (Envoy clears its route cache on request header edits;
// wasmgate does the same), so the request continues on the route that
// matches the tenant's host, with that route's filters and upstream.
//
// Configuration (JSON):
//
//	{"header": "x-tenant", "hosts": {"acme": "acme.tenants.internal"}}
//
// A request without the header, or with a tenant not listed, is left alone.
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
	return &pluginContext{header: "x-tenant"}
}

type pluginContext struct {
	types.DefaultPluginContext
	header string
	hosts  map[string]string
}

func (p *pluginContext) OnPluginStart(int) types.OnPluginStartStatus {
	data, err := proxywasm.GetPluginConfiguration()
	if err != nil && err != types.ErrorStatusNotFound {
		proxywasm.LogCritical("tenant-route: reading the configuration: " + err.Error())
		return types.OnPluginStartStatusFailed
	}
	cfg, err := jsonx.Parse(data)
	if err != nil || cfg.Kind != jsonx.Object {
		proxywasm.LogCritical(`tenant-route: the configuration must be a JSON object like {"header": "x-tenant", "hosts": {"acme": "acme.internal"}}`)
		return types.OnPluginStartStatusFailed
	}
	for _, m := range cfg.Members {
		switch m.Key {
		case "header":
			if m.Val.Kind != jsonx.String || m.Val.Str == "" {
				proxywasm.LogCritical(`tenant-route: "header" must be a non-empty string`)
				return types.OnPluginStartStatusFailed
			}
			p.header = m.Val.Str
		case "hosts":
			if m.Val.Kind != jsonx.Object {
				proxywasm.LogCritical(`tenant-route: "hosts" must map tenants to hosts`)
				return types.OnPluginStartStatusFailed
			}
			p.hosts = make(map[string]string, len(m.Val.Members))
			for _, h := range m.Val.Members {
				if h.Val.Kind != jsonx.String || h.Val.Str == "" {
					proxywasm.LogCritical(`tenant-route: the host of tenant "` + h.Key + `" must be a non-empty string`)
					return types.OnPluginStartStatusFailed
				}
				p.hosts[h.Key] = h.Val.Str
			}
		default:
			proxywasm.LogCritical(`tenant-route: unknown field "` + m.Key + `"; valid: "header", "hosts"`)
			return types.OnPluginStartStatusFailed
		}
	}
	if len(p.hosts) == 0 {
		proxywasm.LogCritical(`tenant-route: "hosts" must list at least one tenant`)
		return types.OnPluginStartStatusFailed
	}
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) NewHttpContext(uint32) types.HttpContext { return &httpContext{plugin: p} }

type httpContext struct {
	types.DefaultHttpContext
	plugin *pluginContext
}

func (h *httpContext) OnHttpRequestHeaders(int, bool) types.Action {
	tenant, err := proxywasm.GetHttpRequestHeader(h.plugin.header)
	if err != nil {
		return types.ActionContinue // no tenant: the route as matched
	}
	host, ok := h.plugin.hosts[tenant]
	if !ok {
		return types.ActionContinue
	}
	if err := proxywasm.ReplaceHttpRequestHeader(":authority", host); err != nil {
		proxywasm.LogError("tenant-route: setting :authority: " + err.Error())
	}
	return types.ActionContinue
}
