// Command route-meta passes a route's metadata to its upstream as request
// headers, reading it through properties as a filter written for Envoy does:
// route_metadata.filter_metadata.<namespace>.<key>, each segment its own
// element of the path, so a namespace with dots ("acme.route") is one
// segment. Envoy encodes a value by its type, which the reader must know:
// strings as they are, numbers as 8-byte little-endian doubles, booleans as
// one byte, so the configuration names the type of each key.
//
// Configuration (JSON):
//
//	{"namespace": "acme.route", "prefix": "x-route-",
//	 "fields": {"tier": "string", "weight": "number", "beta": "bool"}}
//
// It also sets <prefix>name from the route_name property: the route the
// request is on.
package main

import (
	"encoding/binary"
	"math"
	"strconv"

	"github.com/wasmgate/wasmgate/plugins/internal/jsonx"
	"github.com/wasmgate/wasmgate/sdk/proxywasm"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

func main() {}

func init() { proxywasm.SetVMContext(&vmContext{}) }

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(uint32) types.PluginContext {
	return &pluginContext{namespace: "envoy.filters.http.wasm", prefix: "x-route-"}
}

type field struct{ key, kind string }

type pluginContext struct {
	types.DefaultPluginContext
	namespace, prefix string
	fields            []field
}

func (p *pluginContext) OnPluginStart(int) types.OnPluginStartStatus {
	data, err := proxywasm.GetPluginConfiguration()
	if err != nil && err != types.ErrorStatusNotFound {
		proxywasm.LogCritical("route-meta: reading the configuration: " + err.Error())
		return types.OnPluginStartStatusFailed
	}
	cfg, err := jsonx.Parse(data)
	if err != nil || cfg.Kind != jsonx.Object {
		proxywasm.LogCritical(`route-meta: the configuration must be a JSON object like {"namespace": "acme.route", "fields": {"tier": "string"}}`)
		return types.OnPluginStartStatusFailed
	}
	for _, m := range cfg.Members {
		switch m.Key {
		case "namespace", "prefix":
			if m.Val.Kind != jsonx.String || m.Val.Str == "" {
				proxywasm.LogCritical(`route-meta: "` + m.Key + `" must be a non-empty string`)
				return types.OnPluginStartStatusFailed
			}
			if m.Key == "namespace" {
				p.namespace = m.Val.Str
			} else {
				p.prefix = m.Val.Str
			}
		case "fields":
			if m.Val.Kind != jsonx.Object {
				proxywasm.LogCritical(`route-meta: "fields" must map keys to "string", "number" or "bool"`)
				return types.OnPluginStartStatusFailed
			}
			for _, f := range m.Val.Members {
				if k := f.Val.Str; f.Val.Kind != jsonx.String || (k != "string" && k != "number" && k != "bool") {
					proxywasm.LogCritical(`route-meta: the type of "` + f.Key + `" must be "string", "number" or "bool"`)
					return types.OnPluginStartStatusFailed
				}
				p.fields = append(p.fields, field{f.Key, f.Val.Str})
			}
		default:
			proxywasm.LogCritical(`route-meta: unknown field "` + m.Key + `"; valid: "namespace", "prefix", "fields"`)
			return types.OnPluginStartStatusFailed
		}
	}
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) NewHttpContext(uint32) types.HttpContext { return &httpContext{plugin: p} }

type httpContext struct {
	types.DefaultHttpContext
	plugin *pluginContext
}

func (h *httpContext) OnHttpRequestHeaders(int, bool) types.Action {
	p := h.plugin
	if name, err := proxywasm.GetProperty([]string{"route_name"}); err == nil {
		h.set("name", string(name))
	}
	for _, f := range p.fields {
		raw, err := proxywasm.GetProperty([]string{"route_metadata", "filter_metadata", p.namespace, f.key})
		if err != nil {
			continue // this route does not set it
		}
		if v, ok := decode(raw, f.kind); ok {
			h.set(f.key, v)
		} else {
			proxywasm.LogWarn("route-meta: metadata " + f.key + " is not a " + f.kind)
		}
	}
	return types.ActionContinue
}

func (h *httpContext) set(key, value string) {
	if err := proxywasm.ReplaceHttpRequestHeader(h.plugin.prefix+key, value); err != nil {
		proxywasm.LogError("route-meta: " + err.Error())
	}
}

// decode reads a property value of a known type as Envoy encodes it.
func decode(raw []byte, kind string) (string, bool) {
	switch kind {
	case "number":
		if len(raw) != 8 {
			return "", false
		}
		return strconv.FormatFloat(math.Float64frombits(binary.LittleEndian.Uint64(raw)), 'g', -1, 64), true
	case "bool":
		if len(raw) != 1 {
			return "", false
		}
		return strconv.FormatBool(raw[0] != 0), true
	}
	return string(raw), true
}
