package vmstate

import "github.com/wasmgate/wasmgate/sdk/proxywasm/types"

// The shorter entry points wrap a factory in the contexts it leaves out, so
// the callbacks route the same way whichever entry point a filter used.

type pluginFactoryVM struct {
	types.DefaultVMContext
	newPlugin types.PluginContextFactory
}

func (v *pluginFactoryVM) NewPluginContext(id uint32) types.PluginContext { return v.newPlugin(id) }

type httpFactoryPlugin struct {
	types.DefaultPluginContext
	newHttp types.HttpContextFactory
}

func (p *httpFactoryPlugin) NewHttpContext(id uint32) types.HttpContext { return p.newHttp(id) }

type tcpFactoryPlugin struct {
	types.DefaultPluginContext
	newTcp types.TcpContextFactory
}

func (p *tcpFactoryPlugin) NewTcpContext(id uint32) types.TcpContext { return p.newTcp(id) }

// VMFromPluginFactory is the VM context of a filter registered with
// SetPluginContext.
func VMFromPluginFactory(f types.PluginContextFactory) types.VMContext {
	return &pluginFactoryVM{newPlugin: f}
}

// VMFromHttpFactory is the VM context of a filter registered with
// SetHttpContext.
func VMFromHttpFactory(f types.HttpContextFactory) types.VMContext {
	return VMFromPluginFactory(func(uint32) types.PluginContext { return &httpFactoryPlugin{newHttp: f} })
}

// VMFromTcpFactory is the VM context of a filter registered with
// SetTcpContext.
func VMFromTcpFactory(f types.TcpContextFactory) types.VMContext {
	return VMFromPluginFactory(func(uint32) types.PluginContext { return &tcpFactoryPlugin{newTcp: f} })
}
