// Command transform edits requests and responses on their way through the
// gateway: it adds, sets, renames and removes headers, injects fields into
// JSON bodies and masks fields in them. See README.md for the configuration.
//
// JSON edits need the body (wasmgate: `bodies: [request]` and/or
// `bodies: [response]` on the plugin).
package main

import (
	"strings"

	"github.com/wasmgate/wasmgate/plugins/internal/jsonx"
	"github.com/wasmgate/wasmgate/sdk/proxywasm"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

func main() {}

func init() { proxywasm.SetVMContext(&vmContext{}) }

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(uint32) types.PluginContext { return &pluginContext{} }

type pluginContext struct {
	types.DefaultPluginContext
	config *config
}

func (p *pluginContext) OnPluginStart(int) types.OnPluginStartStatus {
	data, err := proxywasm.GetPluginConfiguration()
	if err != nil {
		proxywasm.LogCritical(`transform: no configuration; give it {"request": {...}, "response": {...}}`)
		return types.OnPluginStartStatusFailed
	}
	if p.config, err = parseConfig(data); err != nil {
		proxywasm.LogCritical("transform: " + err.Error())
		return types.OnPluginStartStatusFailed
	}
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) NewHttpContext(uint32) types.HttpContext {
	return &httpContext{config: p.config}
}

type httpContext struct {
	types.DefaultHttpContext
	config                    *config
	requestJSON, responseJSON bool // the body is JSON and has edits to apply
}

// headerAPI binds the header operations to one direction.
type headerAPI struct {
	get     func(string) (string, error)
	remove  func(string) error
	replace func(string, string) error
	add     func(string, string) error
}

var (
	requestHeaders = headerAPI{proxywasm.GetHttpRequestHeader, proxywasm.RemoveHttpRequestHeader,
		proxywasm.ReplaceHttpRequestHeader, proxywasm.AddHttpRequestHeader}
	responseHeaders = headerAPI{proxywasm.GetHttpResponseHeader, proxywasm.RemoveHttpResponseHeader,
		proxywasm.ReplaceHttpResponseHeader, proxywasm.AddHttpResponseHeader}
)

func (ops *headerOps) apply(api headerAPI) {
	for _, k := range ops.remove {
		_ = api.remove(k)
	}
	for _, kv := range ops.rename {
		if v, err := api.get(kv[0]); err == nil {
			_ = api.remove(kv[0])
			_ = api.replace(kv[1], v)
		}
	}
	for _, kv := range ops.set {
		_ = api.replace(kv[0], kv[1])
	}
	for _, kv := range ops.add {
		_ = api.add(kv[0], kv[1])
	}
}

// wantsJSON checks the content type and, when the body will be rewritten,
// drops Content-Length (the host sets it for the new body).
func wantsJSON(d *direction, api headerAPI, endOfStream bool) bool {
	if d.json == nil || endOfStream {
		return false
	}
	ct, err := api.get("content-type")
	if err != nil || !strings.Contains(strings.ToLower(ct), "json") {
		return false
	}
	_ = api.remove("content-length")
	return true
}

func (h *httpContext) OnHttpRequestHeaders(_ int, endOfStream bool) types.Action {
	h.config.request.headers.apply(requestHeaders)
	h.requestJSON = wantsJSON(&h.config.request, requestHeaders, endOfStream)
	return types.ActionContinue
}

func (h *httpContext) OnHttpResponseHeaders(_ int, endOfStream bool) types.Action {
	h.config.response.headers.apply(responseHeaders)
	h.responseJSON = wantsJSON(&h.config.response, responseHeaders, endOfStream)
	return types.ActionContinue
}

func (h *httpContext) OnHttpRequestBody(bodySize int, endOfStream bool) types.Action {
	if !h.requestJSON {
		return types.ActionContinue
	}
	if !endOfStream {
		return types.ActionPause
	}
	rewrite(h.config.request.json, bodySize, proxywasm.GetHttpRequestBody, proxywasm.ReplaceHttpRequestBody)
	return types.ActionContinue
}

func (h *httpContext) OnHttpResponseBody(bodySize int, endOfStream bool) types.Action {
	if !h.responseJSON {
		return types.ActionContinue
	}
	if !endOfStream {
		return types.ActionPause
	}
	rewrite(h.config.response.json, bodySize, proxywasm.GetHttpResponseBody, proxywasm.ReplaceHttpResponseBody)
	return types.ActionContinue
}

// rewrite applies the JSON edits to a whole body; a body that is not JSON
// passes unchanged.
func rewrite(ops *jsonOps, size int, get func(int, int) ([]byte, error), replace func([]byte) error) {
	body, err := get(0, size)
	if err != nil {
		proxywasm.LogError("transform: reading the body: " + err.Error())
		return
	}
	doc, err := jsonx.Parse(body)
	if err != nil {
		proxywasm.LogDebug("transform: body left as is, not JSON: " + err.Error())
		return
	}
	if !ops.apply(&doc) {
		return
	}
	if err := replace(jsonx.Append(body[:0], &doc)); err != nil {
		proxywasm.LogError("transform: replacing the body: " + err.Error())
	}
}
