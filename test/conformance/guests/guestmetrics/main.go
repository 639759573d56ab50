// Command guestmetrics defines a counter, a gauge and a histogram with
// proxy_define_metric, names carrying tags in the two forms filters written
// for Envoy use: the Go SDK example's "_key=value" and Istio's
// "key=.=value;.;". Each request counts one, moves the gauge by the
// x-gauge header and records the x-observe header in the histogram.
package main

import (
	"strconv"

	"github.com/wasmgate/wasmgate/sdk/proxywasm"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

func main() {}

func init() { proxywasm.SetVMContext(&vmContext{}) }

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(uint32) types.PluginContext { return &pluginContext{} }

type pluginContext struct {
	types.DefaultPluginContext
	requests proxywasm.MetricCounter
	level    proxywasm.MetricGauge
	sizes    proxywasm.MetricHistogram
}

func (p *pluginContext) OnPluginStart(int) types.OnPluginStartStatus {
	p.requests = proxywasm.DefineCounterMetric("requests_reporter=gateway")
	p.level = proxywasm.DefineGaugeMetric("queue.level")
	p.sizes = proxywasm.DefineHistogramMetric("reporter=.=gateway;.;observed_size")
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) NewHttpContext(uint32) types.HttpContext { return &httpContext{p: p} }

type httpContext struct {
	types.DefaultHttpContext
	p *pluginContext
}

func (h *httpContext) OnHttpRequestHeaders(int, bool) types.Action {
	h.p.requests.Increment(1)
	if v, err := proxywasm.GetHttpRequestHeader("x-gauge"); err == nil {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			h.p.level.Add(n)
		}
	}
	if v, err := proxywasm.GetHttpRequestHeader("x-observe"); err == nil {
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			h.p.sizes.Record(n)
		}
	}
	return types.ActionContinue
}
