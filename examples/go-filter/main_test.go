package main

import (
	"testing"

	"github.com/wasmgate/wasmgate/sdk/proxywasm/proxytest"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

func newHost(t *testing.T, config string) proxytest.HostEmulator {
	t.Helper()
	opt := proxytest.NewEmulatorOption().
		WithVMContext(&vmContext{}).
		WithPluginConfiguration([]byte(config))
	host, reset := proxytest.NewHostEmulator(opt)
	t.Cleanup(reset)
	if host.StartPlugin() != types.OnPluginStartStatusOK {
		t.Fatal("plugin failed to start")
	}
	return host
}

func TestGreetsTenant(t *testing.T) {
	host := newHost(t, "hi")
	id := host.InitializeHttpContext()

	action := host.CallOnRequestHeaders(id, [][2]string{{":path", "/"}, {"x-tenant", "acme"}}, true)
	if action != types.ActionContinue {
		t.Fatalf("action = %v, want continue", action)
	}
	got := host.GetCurrentRequestHeaders(id)
	if got[len(got)-1] != [2]string{"x-greeting", "hi, acme"} {
		t.Fatalf("request headers = %q", got)
	}

	host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}}, true)
	if got := host.GetCurrentResponseHeaders(id); got[1] != [2]string{"x-served-for", "acme"} {
		t.Fatalf("response headers = %q", got)
	}
}

func TestRefusesRequestsWithoutTenant(t *testing.T) {
	host := newHost(t, "")
	id := host.InitializeHttpContext()

	host.CallOnRequestHeaders(id, [][2]string{{":path", "/"}}, true)
	resp := host.GetSentLocalResponse(id)
	if resp == nil || resp.StatusCode != 400 {
		t.Fatalf("local response = %+v, want a 400", resp)
	}
}
