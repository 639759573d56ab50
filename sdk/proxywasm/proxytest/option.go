package proxytest

import (
	"strings"

	"github.com/wasmgate/wasmgate/sdk/internal/vmstate"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

// EmulatorOption configures a HostEmulator.
type EmulatorOption struct {
	vmContext           types.VMContext
	pluginConfiguration []byte
	vmConfiguration     []byte
	logLevel            types.LogLevel
	properties          map[string][]byte
}

// NewEmulatorOption returns the default options: no configuration, every log
// level enabled.
func NewEmulatorOption() *EmulatorOption {
	return &EmulatorOption{properties: map[string][]byte{}}
}

// WithVMContext sets the filter under test.
func (o *EmulatorOption) WithVMContext(ctx types.VMContext) *EmulatorOption {
	o.vmContext = ctx
	return o
}

// WithPluginContext sets a filter registered with proxywasm.SetPluginContext.
func (o *EmulatorOption) WithPluginContext(f types.PluginContextFactory) *EmulatorOption {
	o.vmContext = vmstate.VMFromPluginFactory(f)
	return o
}

// WithHttpContext sets a filter registered with proxywasm.SetHttpContext.
func (o *EmulatorOption) WithHttpContext(f types.HttpContextFactory) *EmulatorOption {
	o.vmContext = vmstate.VMFromHttpFactory(f)
	return o
}

// WithTcpContext sets a filter registered with proxywasm.SetTcpContext.
func (o *EmulatorOption) WithTcpContext(f types.TcpContextFactory) *EmulatorOption {
	o.vmContext = vmstate.VMFromTcpFactory(f)
	return o
}

// WithPluginConfiguration sets what GetPluginConfiguration returns (in
// wasmgate: the plugin's `config:` as compact JSON).
func (o *EmulatorOption) WithPluginConfiguration(data []byte) *EmulatorOption {
	o.pluginConfiguration = data
	return o
}

// WithVMConfiguration sets what GetVMConfiguration returns.
func (o *EmulatorOption) WithVMConfiguration(data []byte) *EmulatorOption {
	o.vmConfiguration = data
	return o
}

// WithLogLevel sets the host's log level; messages below it are dropped.
func (o *EmulatorOption) WithLogLevel(level types.LogLevel) *EmulatorOption {
	o.logLevel = level
	return o
}

// WithProperty sets a property the filter can read with GetProperty.
func (o *EmulatorOption) WithProperty(path []string, value []byte) *EmulatorOption {
	o.properties[strings.Join(path, "\x00")] = value
	return o
}
