package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/sdk/proxywasm/proxytest"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

const testConfig = `{
  "request": {
    "headers": {"remove": ["x-debug"], "rename": {"x-old": "x-new"}, "set": {"x-env": "prod"}, "add": {"x-via": "wasmgate"}},
    "json": {"inject": {"source": "gateway", "meta.version": 2}}
  },
  "response": {
    "headers": {"remove": ["server"], "add": {"x-masked": "1"}},
    "json": {"mask": ["password", "user.ssn", "cards.number", "tokens.0"]}
  }
}`

func start(t *testing.T, config string) proxytest.HostEmulator {
	t.Helper()
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().
		WithVMContext(&vmContext{}).WithPluginConfiguration([]byte(config)))
	t.Cleanup(reset)
	if host.StartPlugin() != types.OnPluginStartStatusOK {
		t.Fatalf("config rejected: %q", host.GetCriticalLogs())
	}
	return host
}

func TestRequestHeaders(t *testing.T) {
	host := start(t, testConfig)
	id := host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, [][2]string{{":path", "/"}, {"x-debug", "1"}, {"x-old", "v"}, {"x-env", "dev"}}, true)
	got := host.GetCurrentRequestHeaders(id)
	want := [][2]string{{":path", "/"}, {"x-env", "prod"}, {"x-new", "v"}, {"x-via", "wasmgate"}}
	if !slices.Equal(got, want) {
		t.Fatalf("headers = %q, want %q", got, want)
	}
}

func TestRequestJSONInject(t *testing.T) {
	host := start(t, testConfig)
	id := host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, [][2]string{{"content-type", "application/json"}, {"content-length", "30"}}, false)
	if _, ok := find(host.GetCurrentRequestHeaders(id), "content-length"); ok {
		t.Fatal("content-length kept although the body is rewritten")
	}
	if a := host.CallOnRequestBody(id, []byte(`{"name":"a",`), false); a != types.ActionPause {
		t.Fatalf("first chunk: %v", a)
	}
	host.CallOnRequestBody(id, []byte(`"meta":{"x":1}}`), true)
	if got := string(host.GetCurrentRequestBody(id)); got != `{"name":"a","meta":{"x":1,"version":2},"source":"gateway"}` {
		t.Fatalf("body = %s", got)
	}
}

func TestResponseJSONMask(t *testing.T) {
	host := start(t, testConfig)
	id := host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, nil, true)
	host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}, {"server", "x"}, {"content-type", "application/json; charset=utf-8"}}, false)
	h := host.GetCurrentResponseHeaders(id)
	if _, ok := find(h, "server"); ok {
		t.Fatalf("server not removed: %q", h)
	}
	body := `{"password":"p","user":{"ssn":"1","name":"n"},"cards":[{"number":"4111"},{"number":"5500"}],"tokens":["t1","t2"]}`
	host.CallOnResponseBody(id, []byte(body), true)
	want := `{"password":"****","user":{"ssn":"****","name":"n"},"cards":[{"number":"****"},{"number":"****"}],"tokens":["****","t2"]}`
	if got := string(host.GetCurrentResponseBody(id)); got != want {
		t.Fatalf("body = %s\nwant   %s", got, want)
	}
}

func TestNonJSONBodiesPassUntouched(t *testing.T) {
	host := start(t, testConfig)
	id := host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, [][2]string{{"content-type", "text/plain"}, {"content-length", "5"}}, false)
	if a := host.CallOnRequestBody(id, []byte("hello"), false); a != types.ActionContinue {
		t.Fatal("a text body must stream, not buffer")
	}
	if _, ok := find(host.GetCurrentRequestHeaders(id), "content-length"); !ok {
		t.Fatal("content-length removed from a body that is not rewritten")
	}
	id = host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, [][2]string{{"content-type", "application/json"}}, false)
	host.CallOnRequestBody(id, []byte("{broken"), true)
	if got := string(host.GetCurrentRequestBody(id)); got != "{broken" {
		t.Fatalf("invalid JSON body changed: %s", got)
	}
}

func TestBadConfigsNameTheProblem(t *testing.T) {
	for config, want := range map[string]string{
		`{"req":{}}`: `unknown field "req"`,
		`{"request":{"headers":{"add":{"a":1}}}}`:  `request.headers.add.a: must be a string`,
		`{"response":{"json":{"mask":["a..b"]}}}`:  `"a..b" is not a field path`,
		`{"request":{"json":{"inject":[]}}}`:       `request.json.inject: must be an object`,
		`{"request":{"headers":{"delete":["a"]}}}`: `request.headers.delete: unknown field`,
	} {
		host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().
			WithVMContext(&vmContext{}).WithPluginConfiguration([]byte(config)))
		st := host.StartPlugin()
		logs := host.GetCriticalLogs()
		reset()
		if st != types.OnPluginStartStatusFailed || len(logs) != 1 || !strings.Contains(logs[0], want) {
			t.Errorf("config %s: status %v, logs %q, want %q", config, st, logs, want)
		}
	}
}

func find(h [][2]string, key string) (string, bool) {
	for _, p := range h {
		if p[0] == key {
			return p[1], true
		}
	}
	return "", false
}
