// Command json-validate checks JSON request bodies against a small schema
// from the plugin configuration and answers 400 with the reason:
//
//	{"error": "\"age\" must be an integer, not a string", "status": 400, "field": "age"}
//
// It needs no `bodies:` in its config: the host streams the body to it and
// it buffers until the end of the stream (ActionPause), as in Envoy.
package main

import (
	"errors"
	"strconv"
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
		proxywasm.LogCritical("json-validate: no configuration; give it {\"schema\": {...}}")
		return types.OnPluginStartStatusFailed
	}
	if p.config, err = parseConfig(data); err != nil {
		proxywasm.LogCritical("json-validate: " + err.Error())
		return types.OnPluginStartStatusFailed
	}
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) NewHttpContext(uint32) types.HttpContext {
	return &httpContext{config: p.config}
}

type httpContext struct {
	types.DefaultHttpContext
	config *config
	skip   bool
}

var jsonHeaders = [][2]string{{"content-type", "application/json"}}

func (h *httpContext) OnHttpRequestHeaders(_ int, endOfStream bool) types.Action {
	if len(h.config.methods) > 0 {
		method, _ := proxywasm.GetHttpRequestHeader(":method")
		h.skip = true
		for _, m := range h.config.methods {
			if m == method {
				h.skip = false
			}
		}
		if h.skip {
			return types.ActionContinue
		}
	}
	if ct, err := proxywasm.GetHttpRequestHeader("content-type"); err == nil && !strings.Contains(strings.ToLower(ct), "json") {
		return h.reject(415, "content-type must be application/json, not "+strconv.Quote(ct), "")
	}
	if endOfStream {
		return h.reject(400, "a JSON request body is required", "")
	}
	return types.ActionContinue
}

func (h *httpContext) OnHttpRequestBody(bodySize int, endOfStream bool) types.Action {
	if h.skip {
		return types.ActionContinue
	}
	if !endOfStream {
		return types.ActionPause // wait for the whole body
	}
	body, err := proxywasm.GetHttpRequestBody(0, bodySize)
	if err != nil && !errors.Is(err, types.ErrorStatusNotFound) { // NOT_FOUND: an empty body
		proxywasm.LogError("json-validate: reading the body: " + err.Error())
		return h.reject(500, "the request body could not be read", "")
	}
	if len(body) == 0 {
		return h.reject(400, "a JSON request body is required", "")
	}
	doc, err := jsonx.Parse(body)
	if err != nil {
		return h.reject(400, "the request body is not valid JSON: "+err.Error(), "")
	}
	if bad := validate(h.config.schema, &doc, ""); bad != nil {
		return h.reject(400, bad.msg, bad.field)
	}
	return types.ActionContinue
}

func (h *httpContext) reject(status int, msg, field string) types.Action {
	out := make([]byte, 0, 64+len(msg)+len(field))
	out = append(out, `{"error":`...)
	out = jsonx.AppendString(out, msg)
	out = append(out, `,"status":`...)
	out = strconv.AppendInt(out, int64(status), 10)
	if field != "" {
		out = append(out, `,"field":`...)
		out = jsonx.AppendString(out, field)
	}
	out = append(out, '}')
	if err := proxywasm.SendHttpResponse(uint32(status), jsonHeaders, out, -1); err != nil {
		proxywasm.LogError("json-validate: sending the response: " + err.Error())
	}
	return types.ActionPause
}
