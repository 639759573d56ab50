// Command pause-tick pauses every request in OnHttpRequestHeaders and
// resumes the paused ones from OnTick, adding x-resumed-by: tick, in the
// style of the upstream proxy-wasm-go-sdk's examples: a filter that waits
// for something a timer (or a queue, or a callout) brings.
//
// The tick switches to each paused stream with proxy_set_effective_context,
// then resumes it with proxy_continue_stream (proxywasm.ResumeHttpRequest).
// The plugin config may set the tick period in milliseconds: {"period": 20}.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o pause-tick/pause-tick.wasm ./pause-tick
package main

import (
	"strconv"
	"strings"

	"github.com/wasmgate/wasmgate/sdk/proxywasm"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

func main() {}

func init() { proxywasm.SetVMContext(&vmContext{}) }

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(uint32) types.PluginContext { return &pluginContext{} }

type pluginContext struct {
	types.DefaultPluginContext
	paused []uint32 // the context ids of the paused requests
}

func (p *pluginContext) OnPluginStart(int) types.OnPluginStartStatus {
	period := uint32(20)
	if cfg, err := proxywasm.GetPluginConfiguration(); err == nil {
		// {"period": N}: a config this small needs no JSON parser.
		s := string(cfg)
		if i := strings.Index(s, `"period"`); i >= 0 {
			s = strings.TrimLeft(s[i+len(`"period"`):], " :")
			if j := strings.IndexAny(s, ",} "); j >= 0 {
				s = s[:j]
			}
			if n, err := strconv.Atoi(s); err == nil && n > 0 {
				period = uint32(n)
			}
		}
	}
	if err := proxywasm.SetTickPeriodMilliSeconds(period); err != nil {
		proxywasm.LogCriticalf("pause-tick: setting the tick: %v", err)
		return types.OnPluginStartStatusFailed
	}
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) NewHttpContext(id uint32) types.HttpContext {
	return &httpContext{id: id, plugin: p}
}

func (p *pluginContext) OnTick() {
	for _, id := range p.paused {
		if err := setEffectiveContext(id); err != nil {
			proxywasm.LogWarnf("pause-tick: context %d: %v", id, err)
			continue
		}
		_ = proxywasm.AddHttpRequestHeader("x-resumed-by", "tick")
		if err := proxywasm.ResumeHttpRequest(); err != nil {
			proxywasm.LogWarnf("pause-tick: resuming %d: %v", id, err)
		}
	}
	p.paused = p.paused[:0]
}

type httpContext struct {
	types.DefaultHttpContext
	id     uint32
	plugin *pluginContext
}

func (h *httpContext) OnHttpRequestHeaders(int, bool) types.Action {
	h.plugin.paused = append(h.plugin.paused, h.id)
	return types.ActionPause // held until a tick resumes it
}
