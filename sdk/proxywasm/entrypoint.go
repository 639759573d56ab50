package proxywasm

import (
	"github.com/wasmgate/wasmgate/sdk/internal/vmstate"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

// The entry points: call exactly one of them from an init function of the
// main package (a c-shared module never runs main). A later call replaces
// an earlier one.

// SetVMContext registers the filter's VM context.
func SetVMContext(ctx types.VMContext) { vmstate.SetVMContext(ctx) }

// SetPluginContext registers a filter without a VM context of its own: for
// filters that do not read the VM configuration (the plugin configuration is
// still read in OnPluginStart).
func SetPluginContext(newPluginContext func(contextID uint32) types.PluginContext) {
	vmstate.SetVMContext(vmstate.VMFromPluginFactory(newPluginContext))
}

// SetHttpContext registers a stateless HTTP filter: one HTTP context per
// stream, no plugin context (so no plugin configuration, ticks or queues).
func SetHttpContext(newHttpContext func(contextID uint32) types.HttpContext) {
	vmstate.SetVMContext(vmstate.VMFromHttpFactory(newHttpContext))
}

// SetTcpContext registers a stateless TCP filter: one TCP context per
// connection, no plugin context. (wasmgate's host runs HTTP filters only; such
// a filter loads in Envoy and runs under proxytest.)
func SetTcpContext(newTcpContext func(contextID uint32) types.TcpContext) {
	vmstate.SetVMContext(vmstate.VMFromTcpFactory(newTcpContext))
}
