// Command http-body edits request and response bodies, in the style of the
// upstream proxy-wasm-go-sdk's examples/http_body: the request header
// buffer-operation (append, prepend or replace) says what to do with both
// bodies, and buffer-data what to put in (default "[wasm]").
//
// It needs no `bodies:` in the plugin config: the host streams a body to
// any module that exports the body callbacks, and ActionPause until
// endOfStream buffers it whole, as Envoy does.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o http-body/http-body.wasm ./http-body
package main

import (
	"github.com/wasmgate/wasmgate/sdk/proxywasm"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

func main() {}

func init() { proxywasm.SetVMContext(&vmContext{}) }

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(uint32) types.PluginContext { return &pluginContext{} }

type pluginContext struct{ types.DefaultPluginContext }

func (*pluginContext) NewHttpContext(uint32) types.HttpContext { return &httpContext{} }

type httpContext struct {
	types.DefaultHttpContext
	operation string
	data      []byte
}

func (h *httpContext) OnHttpRequestHeaders(int, bool) types.Action {
	h.operation, _ = proxywasm.GetHttpRequestHeader("buffer-operation")
	data, err := proxywasm.GetHttpRequestHeader("buffer-data")
	if err != nil || data == "" {
		data = "[wasm]"
	}
	h.data = []byte(data)
	switch h.operation {
	case "append", "prepend", "replace":
		// The body's length changes: as in Envoy, the filter drops it.
		_ = proxywasm.RemoveHttpRequestHeader("content-length")
	case "":
	default:
		_ = proxywasm.SendHttpResponse(400, nil, []byte("buffer-operation is append, prepend or replace"), -1)
		return types.ActionPause
	}
	return types.ActionContinue
}

func (h *httpContext) OnHttpRequestBody(bodySize int, endOfStream bool) types.Action {
	if h.operation == "" {
		return types.ActionContinue
	}
	if !endOfStream {
		return types.ActionPause // buffer until the whole body is here
	}
	if err := h.edit(proxywasm.AppendHttpRequestBody, proxywasm.PrependHttpRequestBody, proxywasm.ReplaceHttpRequestBody); err != nil {
		proxywasm.LogErrorf("http-body: request: %v", err)
	}
	return types.ActionContinue
}

func (h *httpContext) OnHttpResponseHeaders(int, bool) types.Action {
	if h.operation != "" {
		_ = proxywasm.RemoveHttpResponseHeader("content-length")
	}
	return types.ActionContinue
}

func (h *httpContext) OnHttpResponseBody(bodySize int, endOfStream bool) types.Action {
	if h.operation == "" {
		return types.ActionContinue
	}
	if !endOfStream {
		return types.ActionPause
	}
	if err := h.edit(proxywasm.AppendHttpResponseBody, proxywasm.PrependHttpResponseBody, proxywasm.ReplaceHttpResponseBody); err != nil {
		proxywasm.LogErrorf("http-body: response: %v", err)
	}
	return types.ActionContinue
}

func (h *httpContext) edit(appendFn, prependFn, replaceFn func([]byte) error) error {
	switch h.operation {
	case "append":
		return appendFn(h.data)
	case "prepend":
		return prependFn(h.data)
	default:
		return replaceFn(h.data)
	}
}
