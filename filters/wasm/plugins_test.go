package wasm_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/filters/wasm"
)

func TestPluginsSectionErrors(t *testing.T) {
	_, err := config.Parse("gw.yaml", []byte(`listeners: [{address: ":8080"}]
upstreams: {users: {targets: [{url: "http://127.0.0.1:9001"}]}}
plugins:
  "bad name": {source: a.wasm}
  small: {source: a.wasm, limits: {memory: 1KiB, instances: -1, callouts: -2}, failure_policy: retry}
  huge: {limits: {memory: 8GiB}, shared_data: redis, callouts: [user], bodies: [request, request, headers]}
  empty:
`))
	want := []string{
		`gw.yaml:4:3: plugins.bad name: plugin name "bad name" is not valid; use letters, digits, '_', '.' and '-'`,
		`gw.yaml:5:36: plugins.small.limits.memory: 1024 bytes is less than one 64KiB Wasm page; e.g. memory: 16MiB (Go guests need at least 4MiB)`,
		`gw.yaml:5:50: plugins.small.limits.instances: -1 is negative; use a positive number (0 means the default)`,
		`gw.yaml:5:65: plugins.small.limits.callouts: -2 is negative; use a positive number (0 means the default)`,
		`gw.yaml:5:80: plugins.small.failure_policy: "retry" is not valid; valid values: fail_closed, fail_open`,
		`gw.yaml:6:3: plugins.huge.source: required: the path of the plugin's .wasm file, e.g. source: plugins/check.wasm`,
		`gw.yaml:6:19: plugins.huge.limits.memory: 8589934592 bytes is more than a 32-bit Wasm memory can address; the maximum is 4GiB`,
		`gw.yaml:6:34: plugins.huge.shared_data: shared_data: redis needs a Redis server in the config: stores: {redis: {address: "127.0.0.1:6379"}}`,
		`gw.yaml:6:65: plugins.huge.callouts[0]: unknown upstream "user"; valid upstreams: users; did you mean "users"?`,
		`gw.yaml:6:90: plugins.huge.bodies[1]: "request" is listed twice`,
		`gw.yaml:6:99: plugins.huge.bodies[2]: "headers" is not valid; valid values: request, response`,
		`gw.yaml:7:3: plugins.empty.source: required: the path of the plugin's .wasm file, e.g. source: plugins/check.wasm`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("got:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}

	_, err = config.Parse("gw.yaml", []byte(`listeners: [{address: ":8080"}]
plugins:
  p: {source: a.wasm, limit: {}}
`))
	if want := `gw.yaml:3:23: plugins.p.limit: unknown field "limit"; valid fields: bodies, callouts, close_on_context_done, config, config_visible, failure_policy, limits, root_id, shared_data, source, vm_config, vm_id; did you mean "limits"?`; err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
}

func TestPluginsSectionDefaults(t *testing.T) {
	c, err := config.Parse("gw.yaml", []byte(`listeners: [{address: ":8080"}]
plugins:
  p: {source: a.wasm, vm_id: shared}
`))
	if err != nil {
		t.Fatal(err)
	}
	p := wasm.PluginsOf(c)["p"]
	l := p.Limits
	if l.Memory != 64<<20 || l.Timeout.D() != 100*time.Millisecond || l.StartTimeout.D() != 10*time.Second ||
		l.MaxBody != 1<<20 || l.Callouts != 64 || l.CalloutTimeout.D() != 5*time.Second || l.SharedData != 1<<20 || l.Instances != 0 {
		t.Errorf("limits %+v: want the documented defaults", l)
	}
	if p.FailurePolicy != "fail_closed" || p.SharedData != "memory" || !*p.CloseOnContextDone || p.VMID != "shared" {
		t.Errorf("plugin %+v: want the documented defaults", p)
	}
}
