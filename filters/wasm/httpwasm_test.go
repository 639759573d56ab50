package wasm

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/core/filter"
)

func TestHTTPWasmHeaderFilter(t *testing.T) {
	opts, _ := testOptions(t, "hw-header")
	p := load(t, "hw_header", opts)
	out := exchange(t, p, request("GET", "http://api.example.com/users"))
	wantStatus(t, out, 200)
	if out.Request.Header.Get("X-Wasm") != "1" {
		t.Errorf("request headers %v", out.Request.Header)
	}
	if p.abi != abiHTTPWasm {
		t.Error("not detected as http-wasm")
	}
}

// Bodies buffered through the features enabled at initialization, the
// request/response handlers, the buffer/limit convention, ctx propagation.
func TestHTTPWasmBodies(t *testing.T) {
	opts, _ := testOptions(t, "hw-body")
	p := load(t, "hw_body", opts)
	if n := p.NewFilter().Needs(); !n.RequestBody || !n.ResponseBody {
		t.Fatalf("needs %+v: enable_features(3) at initialization must buffer both bodies", n)
	}
	r := request("POST", "http://api.example.com/items?x=1")
	out, err := p.Exchange(context.Background(), Run{
		Request:  r,
		Body:     []byte("hello"),
		Response: &filter.Response{Status: 200, Header: http.Header{}, Body: []byte("upstream")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Failed != nil {
		t.Fatalf("failed: %v (%q)", out.Failed, logMessages(out))
	}
	if string(out.Body) != "prefix-hello" {
		t.Errorf("request body %q", out.Body)
	}
	if b, _ := io.ReadAll(out.Request.Body); string(b) != "prefix-hello" {
		t.Errorf("request body reader %q", b)
	}
	h := out.Request.Header
	if h.Get("X-Method") != "POST" || h.Get("X-Uri") != "/items?x=1" {
		t.Errorf("request headers %v", h)
	}
	if msgs := logMessages(out); len(msgs) != 1 || msgs[0] != "small-ok" {
		t.Errorf("logs %q: get_uri with a too-small limit must write nothing and return the length", msgs)
	}
	resp := out.Response
	if resp == nil || resp.Status != 201 || string(resp.Body) != "wrapped:upstream" ||
		resp.Header.Get("X-Ctx") != "7" || resp.Header.Get("X-Status-Was") != "200" {
		t.Errorf("response %+v (body %q)", resp, resp.Body)
	}
}

func TestHTTPWasmLocalResponseAndTrap(t *testing.T) {
	opts, _ := testOptions(t, "hw-deny")
	p := load(t, "hw_body", opts)
	out := exchange(t, p, request("GET", "http://api.example.com/", "X-Deny", "1"))
	if out.Local == nil || out.Local.Status != 403 || string(out.Local.Body) != "denied" {
		t.Fatalf("local %+v", out.Local)
	}
	out = exchange(t, p, request("GET", "http://api.example.com/", "X-Trap", "1"))
	if !isPolicy503(out.Local, "hw-deny") || out.Failed == nil || !strings.Contains(out.Failed.Error(), "invalid header") {
		t.Errorf("a host error must trap into the failure policy: %+v %v", out.Local, out.Failed)
	}
	if st := p.Stats(); st.InstancesDiscarded != 1 {
		t.Errorf("stats %+v: the trapped instance must be discarded", st)
	}
}
