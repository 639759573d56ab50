// Package plugins_test runs the committed first-party and example .wasm
// filters (built by `make plugins`) through the real Proxy-Wasm host,
// filters/wasm, with real requests: what the SDK's native emulator promises
// must hold in wazero too.
package plugins_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/wasm"
	"github.com/wasmgate/wasmgate/test/internal/wasmtest"
)

func jsonRequest(method, target string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.Header.Set("Content-Type", "application/json")
	return r
}

func TestAddHeader(t *testing.T) {
	for _, tc := range []struct {
		path, config, header, value string
	}{
		{"plugins/add-header/add-header.wasm", "", "X-Wasm", "add-header"},
		{"plugins/add-header/add-header.wasm", `{"name":"x-hello","value":"world"}`, "X-Hello", "world"},
		{"examples/wat-filter/add-header.wasm", "", "X-Wat-Filter", "hello"},
	} {
		p := wasmtest.Load(t, tc.path, wasm.Options{Config: []byte(tc.config)})
		for range 3 { // instances are reused across exchanges
			out := wasmtest.Exchange(t, p, wasm.Run{Request: httptest.NewRequest("GET", "http://api.test/users/1", nil)})
			if out.Local != nil {
				t.Fatalf("%s: unexpected local response %d %s", tc.path, out.Local.Status, out.Local.Body)
			}
			if got := out.Request.Header.Get(tc.header); got != tc.value {
				t.Fatalf("%s: %s = %q, want %q; headers %v", tc.path, tc.header, got, tc.value, out.Request.Header)
			}
		}
	}
}

func TestAddHeaderRejectsBadConfig(t *testing.T) {
	_, err := wasm.Load(context.Background(), "../../plugins/add-header/add-header.wasm",
		wasm.Options{Name: "bad", Config: []byte(`{"nmae":"x"}`)})
	if err == nil {
		t.Fatal("a config the plugin refuses must fail the load")
	}
}

const schema = `{"schema": {"type": "object", "required": ["name", "age"], "properties": {
  "name": {"type": "string", "minLength": 1, "maxLength": 20},
  "age":  {"type": "integer", "minimum": 0},
  "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
  "role": {"type": "string", "enum": ["user", "admin"]}}}}`

func TestJSONValidate(t *testing.T) {
	p := wasmtest.Load(t, "plugins/json-validate/json-validate.wasm", wasm.Options{Config: []byte(schema), RequestBody: true})

	good := `{"name":"ann","age":31,"tags":["a"],"role":"admin"}`
	out := wasmtest.Exchange(t, p, wasm.Run{Request: jsonRequest("POST", "http://api.test/users"), Body: []byte(good)})
	if out.Local != nil {
		t.Fatalf("a valid body was rejected: %d %s", out.Local.Status, out.Local.Body)
	}
	if out.Response == nil || out.Response.Status != 200 || string(out.Body) != good {
		t.Fatalf("a valid body did not pass unchanged: %+v %q", out.Response, out.Body)
	}

	for body, want := range map[string][2]string{
		`{"age":3}`:                           {"name", `missing required field "name"`},
		`{"name":"ann","age":"3"}`:            {"age", `"age" must be an integer, not a string`},
		`{"name":"ann","age":-4}`:             {"age", `"age" must be at least 0`},
		`{"name":"ann","age":3,"tags":[1]}`:   {"tags[0]", `"tags[0]" must be a string, not an integer`},
		`{"name":"ann","age":3,"role":"god"}`: {"role", `"role" must be one of "user", "admin"`},
		`{"name":`:                            {"", "the request body is not valid JSON"},
	} {
		out := wasmtest.Exchange(t, p, wasm.Run{Request: jsonRequest("POST", "http://api.test/users"), Body: []byte(body)})
		if out.Local == nil {
			t.Errorf("%s passed", body)
			continue
		}
		var reply struct {
			Error  string `json:"error"`
			Status int    `json:"status"`
			Field  string `json:"field"`
		}
		if err := json.Unmarshal(out.Local.Body, &reply); err != nil {
			t.Errorf("%s: reply %q is not JSON: %v", body, out.Local.Body, err)
			continue
		}
		if out.Local.Status != 400 || reply.Status != 400 || reply.Field != want[0] || !strings.Contains(reply.Error, want[1]) {
			t.Errorf("%s: got %d %s, want 400 field %q error containing %q", body, out.Local.Status, out.Local.Body, want[0], want[1])
		}
		if ct := out.Local.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: content-type %q", body, ct)
		}
	}
}

func TestTransform(t *testing.T) {
	config := `{
	  "request": {
	    "headers": {"remove": ["x-debug"], "rename": {"x-old": "x-new"}, "set": {"x-env": "prod"}, "add": {"x-via": "wasmgate"}},
	    "json": {"inject": {"source": "gateway", "meta.version": 2}}
	  },
	  "response": {
	    "headers": {"remove": ["server"], "add": {"x-masked": "1"}},
	    "json": {"mask": ["password", "cards.number"]}
	  }
	}`
	p := wasmtest.Load(t, "plugins/transform/transform.wasm", wasm.Options{Config: []byte(config), RequestBody: true, ResponseBody: true})

	req := jsonRequest("POST", "http://api.test/orders")
	req.Header.Set("X-Debug", "1")
	req.Header.Set("X-Old", "v")
	req.Header.Set("X-Env", "dev")
	upstream := &filter.Response{Status: 200, Header: http.Header{
		"Content-Type": {"application/json"}, "Server": {"backend/1.0"}},
		Body: []byte(`{"id":7,"password":"secret","cards":[{"number":"4111"},{"number":"5500"}]}`)}
	out := wasmtest.Exchange(t, p, wasm.Run{Request: req, Body: []byte(`{"item":"book","meta":{"x":1}}`), Response: upstream})

	h := out.Request.Header
	if h.Get("X-Debug") != "" || h.Get("X-Old") != "" || h.Get("X-New") != "v" || h.Get("X-Env") != "prod" || h.Get("X-Via") != "wasmgate" {
		t.Errorf("request headers = %v", h)
	}
	if got := string(out.Body); got != `{"item":"book","meta":{"x":1,"version":2},"source":"gateway"}` {
		t.Errorf("request body = %s", got)
	}
	if out.Response == nil {
		t.Fatalf("no response; local %+v", out.Local)
	}
	if out.Response.Header.Get("Server") != "" || out.Response.Header.Get("X-Masked") != "1" {
		t.Errorf("response headers = %v", out.Response.Header)
	}
	if got := string(out.Response.Body); got != `{"id":7,"password":"****","cards":[{"number":"****"},{"number":"****"}]}` {
		t.Errorf("response body = %s", got)
	}
}

func TestGoFilterExample(t *testing.T) {
	p := wasmtest.Load(t, "examples/go-filter/go-filter.wasm", wasm.Options{Config: []byte("hi")})

	req := httptest.NewRequest("GET", "http://api.test/", nil)
	req.Header.Set("X-Tenant", "acme")
	out := wasmtest.Exchange(t, p, wasm.Run{Request: req})
	if got := out.Request.Header.Get("X-Greeting"); got != "hi, acme" {
		t.Errorf("x-greeting = %q", got)
	}
	if out.Response == nil || out.Response.Header.Get("X-Served-For") != "acme" {
		t.Errorf("response = %+v", out.Response)
	}

	out = wasmtest.Exchange(t, p, wasm.Run{Request: httptest.NewRequest("GET", "http://api.test/", nil)})
	if out.Local == nil || out.Local.Status != 400 {
		t.Fatalf("a request without X-Tenant got %+v", out.Local)
	}
}

// A body larger than the SDK's 16KiB scratch buffer takes the guest
// allocator's other path (a block pinned until the SDK takes it).
func TestTransformLargeBody(t *testing.T) {
	p := wasmtest.Load(t, "plugins/transform/transform.wasm", wasm.Options{
		Config: []byte(`{"request": {"json": {"inject": {"tag": "big"}}}}`), RequestBody: true,
		// This checks the large-body path, not speed: parsing 200 KiB in a
		// Go guest under -race on a loaded machine can pass the default
		// 100ms callback deadline.
		Timeout: 5 * time.Second})
	big := strings.Repeat("x", 200<<10)
	out := wasmtest.Exchange(t, p, wasm.Run{Request: jsonRequest("POST", "http://api.test/upload"),
		Body: []byte(`{"data":"` + big + `"}`)})
	if want := `{"data":"` + big + `","tag":"big"}`; string(out.Body) != want {
		t.Fatalf("body of %d bytes, want %d; starts %.40q ends %q", len(out.Body), len(want), out.Body, out.Body[max(0, len(out.Body)-30):])
	}
}
