package gateway

import (
	"io"
	"net/http"
	"strings"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/proxy"
)

// Streaming bodies through the chain (core/filter/stream.go): after the
// request phase, a request with a body goes through the filters that
// stream it before the target; after the response phase, an upstream
// response with a body goes through those that stream it before the
// client. A request or response without a body, and a route whose chain
// streams none, take none of this.

// streamRequest primes the request body through the chain's streaming
// filters. It returns the stream (to learn after the upstream exchange
// whether a filter answered while the body went out) and a response that
// ends the exchange now, if any.
func (rt *Route) streamRequest(x *filter.Exchange, ran int) (*filter.BodyStream, *filter.Response) {
	r := x.Request
	if !rt.chain.StreamsRequestBody(ran) || !hasRequestBody(r, x) {
		return nil, nil
	}
	return rt.chain.StreamRequest(x, ran)
}

func hasRequestBody(r *http.Request, x *filter.Exchange) bool {
	if x.RequestBody != nil {
		return len(x.RequestBody) > 0
	}
	return r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
}

// streamResponse runs the upstream response body through the chain's
// streaming filters, in reverse order. It returns the upstream response
// still to copy to the client (nil if a filter answered instead: x.Response
// is then its answer).
func (rt *Route) streamResponse(x *filter.Exchange, r *http.Request, resp *http.Response, ran int) *http.Response {
	out := x.Response
	if !rt.chain.StreamsResponseBody(ran) || out == nil || out.Local || !responseHasBody(r, out.Status) {
		return resp
	}
	if resp == nil || out.Body != nil { // buffered for a filter that needed it whole
		if len(out.Body) == 0 {
			return resp
		}
		rest, local := rt.chain.StreamResponse(x, out, strings.NewReader(string(out.Body)), int64(len(out.Body)), ran)
		if local != nil {
			x.Response = local
		} else if rest != nil {
			body, err := io.ReadAll(rest)
			if err != nil {
				x.Response = filter.Error(http.StatusBadGateway, err.Error())
			} else {
				out.Body = body
			}
		}
		return resp
	}
	if resp.ContentLength == 0 {
		return resp
	}
	var local *filter.Response
	proxy.FilterBody(resp, func(up io.Reader) io.Reader {
		var rest io.Reader
		rest, local = rt.chain.StreamResponse(x, out, up, resp.ContentLength, ran)
		if rest == nil {
			return http.NoBody
		}
		return rest
	})
	if local != nil {
		resp.Body.Close()
		x.Response = local
		return nil
	}
	return resp
}

func responseHasBody(r *http.Request, status int) bool {
	return r.Method != http.MethodHead && status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// rejectedBy names the chain's filter at index i, for the exchange record.
func (rt *Route) rejectedBy(i int) string {
	if i < len(rt.filters) {
		return rt.filters[i]
	}
	return ""
}
