// Command sharedcounter counts requests in shared data, as Envoy filters
// do: every VM resets the counter in OnVMStart (the naive pattern that is
// only right when VMs start before traffic), each request adds one with a
// compare-and-swap loop, and GET /count answers the count.
package main

import (
	"encoding/binary"
	"strconv"

	"github.com/wasmgate/wasmgate/sdk/proxywasm"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

const key = "requests"

func main() {}

func init() { proxywasm.SetVMContext(&vmContext{}) }

type vmContext struct{ types.DefaultVMContext }

// OnVMStart resets the count: right in Envoy, where every VM starts when
// the config loads; wrong on a host that starts a VM under traffic.
func (*vmContext) OnVMStart(int) types.OnVMStartStatus {
	if err := proxywasm.SetSharedData(key, make([]byte, 8), 0); err != nil {
		proxywasm.LogCritical("sharedcounter: resetting: " + err.Error())
		return types.OnVMStartStatusFailed
	}
	return types.OnVMStartStatusOK
}

func (*vmContext) NewPluginContext(uint32) types.PluginContext { return &pluginContext{} }

type pluginContext struct{ types.DefaultPluginContext }

func (*pluginContext) NewHttpContext(uint32) types.HttpContext { return &httpContext{} }

type httpContext struct{ types.DefaultHttpContext }

func (*httpContext) OnHttpRequestHeaders(int, bool) types.Action {
	path, _ := proxywasm.GetHttpRequestHeader(":path")
	if path == "/count" {
		v, _, err := proxywasm.GetSharedData(key)
		if err != nil || len(v) != 8 {
			proxywasm.LogError("sharedcounter: reading the count failed")
			return types.ActionContinue
		}
		n := strconv.FormatUint(binary.LittleEndian.Uint64(v), 10)
		_ = proxywasm.SendHttpResponse(200, [][2]string{{"content-type", "text/plain"}}, []byte(n), -1)
		return types.ActionPause
	}
	for {
		v, cas, err := proxywasm.GetSharedData(key)
		if err != nil || len(v) != 8 {
			proxywasm.LogError("sharedcounter: the counter is missing")
			return types.ActionContinue
		}
		next := make([]byte, 8)
		binary.LittleEndian.PutUint64(next, binary.LittleEndian.Uint64(v)+1)
		err = proxywasm.SetSharedData(key, next, cas)
		if err == nil {
			return types.ActionContinue
		}
		if err != types.ErrorStatusCasMismatch {
			proxywasm.LogError("sharedcounter: " + err.Error())
			return types.ActionContinue
		}
	}
}
