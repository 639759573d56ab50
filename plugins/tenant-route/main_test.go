package main

import (
	"testing"

	"github.com/wasmgate/wasmgate/sdk/proxywasm/proxytest"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

func start(t *testing.T, config string) (proxytest.HostEmulator, types.OnPluginStartStatus) {
	t.Helper()
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().
		WithVMContext(&vmContext{}).WithPluginConfiguration([]byte(config)))
	t.Cleanup(reset)
	return host, host.StartPlugin()
}

func TestRewritesAuthority(t *testing.T) {
	host, st := start(t, `{"hosts": {"acme": "acme.tenants.internal"}}`)
	if st != types.OnPluginStartStatusOK {
		t.Fatalf("config rejected: %q", host.GetCriticalLogs())
	}
	for tenant, want := range map[string]string{"acme": "acme.tenants.internal", "other": "api.example", "": "api.example"} {
		id := host.InitializeHttpContext()
		headers := [][2]string{{":authority", "api.example"}, {":path", "/"}}
		if tenant != "" {
			headers = append(headers, [2]string{"x-tenant", tenant})
		}
		host.CallOnRequestHeaders(id, headers, true)
		got := ""
		for _, h := range host.GetCurrentRequestHeaders(id) {
			if h[0] == ":authority" {
				got = h[1]
			}
		}
		if got != want {
			t.Errorf("tenant %q: :authority %q, want %q", tenant, got, want)
		}
	}
}

func TestRejectsBadConfig(t *testing.T) {
	for _, config := range []string{``, `[]`, `{"hosts": {}}`, `{"hosts": {"a": 1}}`, `{"header": ""}`, `{"hostz": {"a": "b"}}`} {
		host, st := start(t, config)
		if st != types.OnPluginStartStatusFailed || len(host.GetCriticalLogs()) != 1 {
			t.Errorf("config %q: status %v, logs %q", config, st, host.GetCriticalLogs())
		}
	}
}
