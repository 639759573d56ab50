package grpcweb

import (
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/proxy"
)

// Filter is the grpc_web filter; it holds no state of its own.
type Filter struct{}

// call is what the filter keeps for one gRPC-Web exchange.
type call struct {
	textResponse bool   // answer in base64 (application/grpc-web-text)
	contentType  string // of the answer
}

type callKey struct{}

const (
	webPrefix  = "application/grpc-web"
	grpcPrefix = "application/grpc"
)

var (
	grpcType     = []string{"application/grpc"}
	trailersOnly = []string{"trailers"}
)

// OnRequest turns a gRPC-Web request into a gRPC one.
func (f *Filter) OnRequest(x *filter.Exchange) *filter.Response {
	r := x.Request
	ct := r.Header.Get("Content-Type")
	text, ok := webType(ct)
	if !ok {
		return nil
	}
	c := &call{textResponse: text || hasPrefixFold(r.Header.Get("Accept"), webPrefix+"-text")}
	c.contentType = webPrefix + "+proto"
	if c.textResponse {
		c.contentType = webPrefix + "-text+proto"
	}
	x.Set(callKey{}, c)

	h := r.Header
	h["Content-Type"] = grpcType
	// The length was the HTTP/1.1 body's; gRPC frames its messages itself.
	delete(h, "Content-Length")
	h["Te"] = trailersOnly // gRPC over HTTP/2 requires it
	if text {
		if x.RequestBody != nil { // buffered for a filter that needs it whole
			body, err := decodeText(x.RequestBody)
			if err != nil {
				return filter.Error(http.StatusBadRequest, "gRPC-Web request body: "+err.Error())
			}
			x.RequestBody = body
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = newTextReader(r.Body)
			r.ContentLength = -1
		}
	}
	return nil
}

// webType reports whether ct is a gRPC-Web content type, and whether it
// is the base64 one.
func webType(ct string) (text, ok bool) {
	if !hasPrefixFold(ct, webPrefix) {
		return false, false
	}
	rest := ct[len(webPrefix):]
	if hasPrefixFold(rest, "-text") {
		rest, text = rest[len("-text"):], true
	}
	// application/grpc-web, +proto, +json..., with parameters.
	if rest != "" && rest[0] != '+' && rest[0] != ';' {
		return false, false
	}
	return text, true
}

// OnResponse turns the gRPC answer's headers into gRPC-Web ones. Every
// answer the gateway or a filter gives a gRPC-Web call, and every
// upstream answer that is not gRPC (an HTTP error from a proxy on the
// way), becomes a gRPC-Web status with no body, as Envoy's filter does.
func (f *Filter) OnResponse(x *filter.Exchange) *filter.Response {
	c, _ := x.Value(callKey{}).(*call)
	if c == nil {
		return nil
	}
	resp := x.Response
	if resp.Local {
		if resp.Header["Grpc-Status"] != nil {
			resp.Header["Content-Type"] = []string{c.contentType}
			return nil
		}
		return proxy.GRPCLocal(resp, c.contentType)
	}
	// A status in the headers is a trailers-only answer, whatever its
	// content type says.
	if resp.Header["Grpc-Status"] == nil && (resp.Status != http.StatusOK || !hasPrefixFold(resp.Header.Get("Content-Type"), grpcPrefix)) {
		return proxy.GRPCLocal(&filter.Response{Status: resp.Status, Header: http.Header{}, Local: true}, c.contentType)
	}
	resp.Header["Content-Type"] = []string{c.contentType}
	// The body gains a trailer frame (and base64 with -text).
	delete(resp.Header, "Content-Length")
	return nil
}

// Needs: the response body streams through OnResponseBody. The request
// body of a -text call is decoded by a reader in OnRequest instead, so
// that a gRPC stream on the same route never waits for a first message
// before it goes upstream.
func (f *Filter) Needs() filter.Needs { return filter.Needs{StreamResponseBody: true} }

// OnResponseBody passes each chunk of the answer on as it arrives (a
// server stream's messages reach the browser one by one), base64 encoded
// for -text, and at the end adds the trailers as the final frame.
func (f *Filter) OnResponseBody(x *filter.Exchange, b *filter.Body) (filter.BodyAction, *filter.Response) {
	c, _ := x.Value(callKey{}).(*call)
	if c == nil {
		return filter.BodyContinue, nil
	}
	if b.End {
		if tr := x.Response.Trailer; tr != nil && len(*tr) > 0 {
			if gs := (*tr)["Grpc-Status"]; len(gs) > 0 {
				x.GRPCStatus = gs[0] // the proxy no longer sees it
			}
			b.Buf = appendTrailerFrame(b.Buf, *tr)
			clear(*tr) // sent in the body, not as HTTP trailers
		}
	}
	if c.textResponse && len(b.Buf) > 0 {
		// Each flush is encoded on its own, padding and all: gRPC-Web
		// clients decode a stream of padded base64 pieces (PROTOCOL-WEB.md).
		out := make([]byte, base64.StdEncoding.EncodedLen(len(b.Buf)))
		base64.StdEncoding.Encode(out, b.Buf)
		b.Buf = out
	}
	return filter.BodyContinue, nil
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

var (
	_ filter.Filter             = (*Filter)(nil)
	_ filter.ResponseFilter     = (*Filter)(nil)
	_ filter.BodyFilter         = (*Filter)(nil)
	_ filter.ResponseBodyFilter = (*Filter)(nil)
)
