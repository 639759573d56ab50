package main

import (
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/plugins/internal/jsonx"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/proxytest"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

const testConfig = `{"methods": ["POST"], "schema": {
  "type": "object",
  "required": ["name", "age"],
  "additionalProperties": false,
  "properties": {
    "name":  {"type": "string", "minLength": 1, "maxLength": 5},
    "age":   {"type": "integer", "minimum": 0, "maximum": 150},
    "score": {"type": "number"},
    "admin": {"type": "boolean"},
    "role":  {"type": "string", "enum": ["user", "admin"]},
    "tags":  {"type": "array", "maxItems": 2, "items": {"type": "string", "maxLength": 3}},
    "address": {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}
  }}}`

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

// post sends a JSON POST in two chunks and returns the local response, if any.
func post(host proxytest.HostEmulator, body string) *proxytest.LocalHttpResponse {
	id := host.InitializeHttpContext()
	headers := [][2]string{{":method", "POST"}, {":path", "/users"}, {"content-type", "application/json"}}
	if host.CallOnRequestHeaders(id, headers, false) != types.ActionContinue {
		return host.GetSentLocalResponse(id)
	}
	half := len(body) / 2
	if a := host.CallOnRequestBody(id, []byte(body[:half]), false); a != types.ActionPause {
		panic("the first chunk must be buffered")
	}
	host.CallOnRequestBody(id, []byte(body[half:]), true)
	return host.GetSentLocalResponse(id)
}

func TestValidBodiesPass(t *testing.T) {
	host := start(t, testConfig)
	for _, body := range []string{
		`{"name":"ann","age":30}`,
		`{"name":"bob","age":1.0,"score":2.5,"admin":false,"role":"admin","tags":["a","b"],"address":{"city":"x"}}`,
	} {
		if r := post(host, body); r != nil {
			t.Errorf("%s rejected: %d %s", body, r.StatusCode, r.Data)
		}
	}
}

func TestInvalidBodiesRejected(t *testing.T) {
	host := start(t, testConfig)
	for body, want := range map[string][2]string{
		`{"age":3}`:                                   {"name", `missing required field \"name\"`},
		`{"name":"ann"}`:                              {"age", `missing required field \"age\"`},
		`{"name":7,"age":3}`:                          {"name", `\"name\" must be a string, not an integer`},
		`{"name":"ann","age":"3"}`:                    {"age", `\"age\" must be an integer, not a string`},
		`{"name":"ann","age":2.5}`:                    {"age", `\"age\" must be an integer, not a number`},
		`{"name":"","age":3}`:                         {"name", `at least 1 character long`},
		`{"name":"toolong","age":3}`:                  {"name", `at most 5 characters long`},
		`{"name":"ann","age":-1}`:                     {"age", `\"age\" must be at least 0`},
		`{"name":"ann","age":151}`:                    {"age", `\"age\" must be at most 150`},
		`{"name":"ann","age":3,"admin":"yes"}`:        {"admin", `must be a boolean`},
		`{"name":"ann","age":3,"role":"root"}`:        {"role", `must be one of \"user\", \"admin\"`},
		`{"name":"ann","age":3,"tags":["a","b","c"]}`: {"tags", `at most 2 items`},
		`{"name":"ann","age":3,"tags":["a",1]}`:       {"tags[1]", `\"tags[1]\" must be a string`},
		`{"name":"ann","age":3,"address":{}}`:         {"address.city", `missing required field \"address.city\"`},
		`{"name":"ann","age":3,"extra":1}`:            {"extra", `unknown field \"extra\"`},
		`[1]`:                                         {"", `the body must be an object, not an array`},
		`{"name":"ann",`:                              {"", `not valid JSON: expected a member name in quotes at offset 14`},
	} {
		r := post(host, body)
		if r == nil {
			t.Errorf("%s passed", body)
			continue
		}
		if r.StatusCode != 400 {
			t.Errorf("%s: status %d", body, r.StatusCode)
		}
		reply, err := jsonx.Parse(r.Data)
		if err != nil {
			t.Errorf("%s: reply is not JSON: %s", body, r.Data)
			continue
		}
		if s := reply.Get("status"); s == nil || s.Num != 400 {
			t.Errorf("%s: reply %s has no status 400", body, r.Data)
		}
		field := ""
		if f := reply.Get("field"); f != nil {
			field = f.Str
		}
		if field != want[0] || !strings.Contains(string(r.Data), want[1]) {
			t.Errorf("%s: reply %s, want field %q and %q", body, r.Data, want[0], want[1])
		}
	}
}

func TestHeadersOnlyChecks(t *testing.T) {
	host := start(t, testConfig)
	id := host.InitializeHttpContext()
	if a := host.CallOnRequestHeaders(id, [][2]string{{":method", "GET"}}, true); a != types.ActionContinue {
		t.Fatal("a GET is not validated when methods is [POST]")
	}
	id = host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, [][2]string{{":method", "POST"}}, true)
	if r := host.GetSentLocalResponse(id); r == nil || r.StatusCode != 400 || !strings.Contains(string(r.Data), "body is required") {
		t.Fatalf("POST without a body: %+v", r)
	}
	id = host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, [][2]string{{":method", "POST"}, {"content-type", "text/plain"}}, false)
	if r := host.GetSentLocalResponse(id); r == nil || r.StatusCode != 415 {
		t.Fatalf("text/plain body: %+v", r)
	}
}

func TestBadConfigsNameTheProblem(t *testing.T) {
	for config, want := range map[string]string{
		`{}`:                         `"schema" is required`,
		`{"schema":{"type":"text"}}`: `schema.type: must be one of`,
		`{"schema":{"properties":{"a":{"maxLength":-1}}}}`: `schema.properties.a.maxLength: must be a non-negative integer`,
		`{"schema":{"pattern":"x"}}`:                       `schema.pattern: unknown keyword`,
		`{"schema":{},"mode":1}`:                           `unknown field "mode"`,
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
