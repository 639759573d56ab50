package main

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/wasmgate/wasmgate/sdk/proxywasm/proxytest"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

func TestSetsHeadersFromMetadata(t *testing.T) {
	ns := []string{"route_metadata", "filter_metadata", "acme.route"}
	prop := func(k string) []string { return append(append([]string{}, ns...), k) }
	weight := binary.LittleEndian.AppendUint64(nil, math.Float64bits(2.5))
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().
		WithVMContext(&vmContext{}).
		WithPluginConfiguration([]byte(`{"namespace": "acme.route", "fields": {"tier": "string", "weight": "number", "beta": "bool", "absent": "string"}}`)).
		WithProperty([]string{"route_name"}, []byte("users")).
		WithProperty(prop("tier"), []byte("gold")).
		WithProperty(prop("weight"), weight).
		WithProperty(prop("beta"), []byte{1}))
	defer reset()
	if st := host.StartPlugin(); st != types.OnPluginStartStatusOK {
		t.Fatalf("config rejected: %q", host.GetCriticalLogs())
	}
	id := host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, [][2]string{{":path", "/"}}, true)
	got := map[string]string{}
	for _, h := range host.GetCurrentRequestHeaders(id) {
		got[h[0]] = h[1]
	}
	want := map[string]string{"x-route-name": "users", "x-route-tier": "gold", "x-route-weight": "2.5", "x-route-beta": "true"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (headers %v)", k, got[k], v, got)
		}
	}
	if _, ok := got["x-route-absent"]; ok {
		t.Error("a key the route does not set must not become a header")
	}
}

func TestRejectsBadConfig(t *testing.T) {
	for _, config := range []string{`[]`, `{"fields": {"a": "int"}}`, `{"namespace": ""}`, `{"nope": 1}`} {
		host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().
			WithVMContext(&vmContext{}).WithPluginConfiguration([]byte(config)))
		if st := host.StartPlugin(); st != types.OnPluginStartStatusFailed || len(host.GetCriticalLogs()) != 1 {
			t.Errorf("config %q: status %v, logs %q", config, st, host.GetCriticalLogs())
		}
		reset()
	}
}
