package conformance

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wasmgate/wasmgate/filters/wasm"
)

// proxy_http_call's header checks, through the probe: Envoy
// (source/extensions/common/wasm/context.cc, Context::httpCall) refuses a
// call whose headers lack :path, :method or :authority with BAD_ARGUMENT,
// and takes an empty :authority (the Go guest test through the binary,
// goguests_test.go, checks the Host it sends).
func TestHTTPCallHeaders(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	callouts := func(o *wasm.Options) { o.Callouts = map[string]wasm.Caller{"backend": wasm.URLCaller(up.URL)} }
	call := func(headers []byte, want exp) step {
		return step{fn: fHTTPCall, args: []any{data("backend"), data(headers), data{}, data{}, 1000, ret0}, out: outNone, want: want}
	}
	for _, c := range []hostCase{
		{name: "empty authority", rule: "Envoy Context::httpCall: an empty :authority is present, so accepted; the call carries the cluster's host",
			phase: onRequestHeaders, opts: callouts,
			steps: []step{call(hmap(":method", "GET", ":path", "/", ":authority", ""), st(OK))}},
		{name: "given authority", rule: "Envoy Context::httpCall: the :authority given is the call's Host",
			phase: onRequestHeaders, opts: callouts,
			steps: []step{call(hmap(":method", "GET", ":path", "/", ":authority", "svc.internal"), st(OK))}},
		{name: "no authority", rule: "Envoy Context::httpCall: without :authority, BAD_ARGUMENT",
			phase: onRequestHeaders, opts: callouts,
			steps: []step{call(hmap(":method", "GET", ":path", "/"), st(BAD_ARGUMENT))}},
		{name: "no path", rule: "Envoy Context::httpCall: without :path, BAD_ARGUMENT",
			phase: onRequestHeaders, opts: callouts,
			steps: []step{call(hmap(":method", "GET", ":authority", "x"), st(BAD_ARGUMENT))}},
		{name: "no method", rule: "Envoy Context::httpCall: without :method, BAD_ARGUMENT",
			phase: onRequestHeaders, opts: callouts,
			steps: []step{call(hmap(":path", "/", ":authority", "x"), st(BAD_ARGUMENT))}},
	} {
		t.Run(c.name, func(t *testing.T) { runCase(t, c) })
	}
}
