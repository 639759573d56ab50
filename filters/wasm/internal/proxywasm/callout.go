package proxywasm

import (
	"context"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/wasmrt"
)

// Callouts (proxy_http_call): the request the guest describes, sent by the
// gateway (Host.HTTPCall) to an upstream the plugin declares; its response
// comes back in proxy_on_http_call_response (Host.Delivering).

func hostHTTPCall(_ context.Context, h Host, mem api.Memory, a []uint64) Status {
	name, ok1 := Read(mem, Arg(a, 0), Arg(a, 1))
	hb, ok2 := Read(mem, Arg(a, 2), Arg(a, 3))
	body, ok3 := Read(mem, Arg(a, 4), Arg(a, 5))
	tb, ok4 := Read(mem, Arg(a, 6), Arg(a, 7))
	if !ok1 || !ok2 || !ok3 || !ok4 || mem == nil {
		return StatusInvalidMemoryAccess
	}
	if _, ok := mem.Read(Arg(a, 9), 4); !ok {
		return StatusInvalidMemoryAccess
	}
	if !h.HasUpstream(string(name)) {
		h.Logger().Warn("proxy_http_call to an upstream the plugin does not declare under callouts", "upstream", string(name))
		return StatusBadArgument
	}
	req, st := calloutRequest(hb, body, tb)
	if st != StatusOK {
		return st
	}
	d := time.Duration(Arg(a, 8)) * time.Millisecond
	if max := h.CalloutTimeout(); d <= 0 || d > max {
		d = max
	}
	id, st := h.HTTPCall(string(name), req, d)
	if st != StatusOK {
		return st
	}
	mem.WriteUint32Le(Arg(a, 9), id)
	return StatusOK
}

// calloutRequest builds the request from the guest's serialized headers
// (which must hold :method, :path and :authority), body and trailers.
func calloutRequest(hb, body, tb []byte) (*http.Request, Status) {
	pairs, ok := ParseMap(hb)
	if !ok {
		return nil, StatusBadArgument
	}
	var method, path, authority string
	hasAuthority := false
	h := make(http.Header, len(pairs))
	for _, p := range pairs {
		switch p.K {
		case ":method":
			method = p.V
		case ":path":
			path = p.V
		case ":authority":
			authority, hasAuthority = p.V, true
		case ":scheme":
		default:
			if strings.HasPrefix(p.K, ":") || !wasmrt.ValidHeader(p.K, p.V) {
				return nil, StatusBadArgument
			}
			h.Add(p.K, p.V)
		}
	}
	// Envoy refuses a call without :method, :path or :authority, but takes
	// an empty :authority: the request then carries the upstream's host
	// (the Caller fills it in, Host being "").
	if method == "" || !hasAuthority || !strings.HasPrefix(path, "/") || strings.ContainsAny(method, " \t\r\n") ||
		strings.ContainsAny(authority, "/?#@ \t\r\n") {
		return nil, StatusBadArgument
	}
	var rb io.Reader
	if len(body) > 0 {
		rb = strings.NewReader(string(body))
	}
	req, err := http.NewRequest(method, "http://"+calloutHost(authority)+path, rb)
	if err != nil {
		return nil, StatusBadArgument
	}
	req.Header, req.Host = h, authority
	if tp, ok := ParseMap(tb); ok && len(tp) > 0 {
		req.Trailer = make(http.Header, len(tp))
		for _, p := range tp {
			req.Trailer.Add(p.K, p.V)
		}
	}
	return req, StatusOK
}

// calloutHost is the URL host of a callout before its Caller points it at
// a target: the authority, or a placeholder when the guest left it empty.
func calloutHost(authority string) string {
	if authority == "" {
		return "upstream.invalid"
	}
	return authority
}

func hostContinueStream(_ context.Context, h Host, _ api.Memory, _ []uint64) Status {
	h.Resume()
	return StatusOK
}
