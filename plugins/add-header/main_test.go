package main

import (
	"testing"

	"github.com/wasmgate/wasmgate/sdk/proxywasm/proxytest"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

func run(t *testing.T, config string) (proxytest.HostEmulator, types.OnPluginStartStatus) {
	t.Helper()
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().
		WithVMContext(&vmContext{}).WithPluginConfiguration([]byte(config)))
	t.Cleanup(reset)
	return host, host.StartPlugin()
}

func TestAddsHeader(t *testing.T) {
	for config, want := range map[string][2]string{
		``:                                   {"x-wasm", "add-header"},
		`{"name":"x-hello","value":"world"}`: {"x-hello", "world"},
		`{"value":"v"}`:                      {"x-wasm", "v"},
	} {
		host, st := run(t, config)
		if st != types.OnPluginStartStatusOK {
			t.Fatalf("config %q rejected: %q", config, host.GetCriticalLogs())
		}
		id := host.InitializeHttpContext()
		if a := host.CallOnRequestHeaders(id, [][2]string{{":path", "/"}}, true); a != types.ActionContinue {
			t.Fatalf("action = %v", a)
		}
		got := host.GetCurrentRequestHeaders(id)
		if len(got) != 2 || got[1] != want {
			t.Errorf("config %q: headers = %q, want %q added", config, got, want)
		}
	}
}

func TestRejectsBadConfig(t *testing.T) {
	for _, config := range []string{`[]`, `{"name":1}`, `{"nmae":"x"}`, `{"name":""}`, `{`} {
		host, st := run(t, config)
		if st != types.OnPluginStartStatusFailed || len(host.GetCriticalLogs()) != 1 {
			t.Errorf("config %q: status %v, logs %q", config, st, host.GetCriticalLogs())
		}
	}
}
