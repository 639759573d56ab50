package proxy

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wasmgate/wasmgate/core/filter"
)

// gRPC-shaped local replies. A gRPC client reads a call's outcome from
// grpc-status, not from the HTTP status: a 401 with a JSON body reaches
// grpc-go as "Unavailable: unexpected HTTP status code 401 ... content-type
// application/json". So every response the gateway produces itself for a
// request with content-type application/grpc* (routing miss, auth and
// limit refusals, upstream failures, a filter's local response) is sent as
// Envoy sends its local replies to gRPC requests: HTTP 200, content-type
// application/grpc, grpc-status and grpc-message, no body (trailers-only,
// gRPC over HTTP/2 spec). A local response that sets grpc-status itself is
// left as it is.

// gRPC status codes (google.golang.org/grpc/codes).
const (
	grpcUnknown          = 2
	grpcDeadlineExceeded = 4
	grpcPermissionDenied = 7
	grpcResourceExhaust  = 8
	grpcUnimplemented    = 12
	grpcInternal         = 13
	grpcUnavailable      = 14
	grpcUnauthenticated  = 16
)

// grpcStatusOf maps an HTTP status to a gRPC code as gRPC's
// http-grpc-status-mapping and Envoy's local replies do, with 504 and 408
// (the gateway's own timeouts) as DEADLINE_EXCEEDED, the code a client's
// own deadline gives, and 413 as RESOURCE_EXHAUSTED, grpc-go's code for a
// message over its size limit.
func grpcStatusOf(status int) int {
	switch status {
	case http.StatusBadRequest:
		return grpcInternal
	case http.StatusUnauthorized:
		return grpcUnauthenticated
	case http.StatusForbidden:
		return grpcPermissionDenied
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return grpcUnimplemented
	case http.StatusRequestTimeout, http.StatusGatewayTimeout:
		return grpcDeadlineExceeded
	case http.StatusRequestEntityTooLarge:
		return grpcResourceExhaust
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable:
		return grpcUnavailable
	}
	return grpcUnknown
}

// grpcReplyType is the content type of a local reply to a request of
// content type ct: a gRPC-Web client (application/grpc-web*, on a route
// without the grpc_web filter or refused before it ran) is answered in
// its own protocol, whose trailers-only reply is the same headers.
func grpcReplyType(ct string) string {
	const web = "application/grpc-web"
	if len(ct) < len(web) || !strings.EqualFold(ct[:len(web)], web) {
		return "application/grpc"
	}
	if rest := ct[len(web):]; len(rest) >= 5 && strings.EqualFold(rest[:5], "-text") {
		return "application/grpc-web-text+proto"
	}
	return "application/grpc-web+proto"
}

// GRPCLocal returns resp, a local response, as a gRPC trailers-only reply
// of content type ct: HTTP 200, grpc-status mapped from its status and
// grpc-message from its reason. Its other header fields
// (WWW-Authenticate, Retry-After, RateLimit, ...) are kept. For filters
// that speak a gRPC variant (grpc_web).
func GRPCLocal(resp *filter.Response, ct string) *filter.Response {
	h := make(http.Header, len(resp.Header)+3)
	for k, vv := range resp.Header {
		switch k {
		case "Content-Type", "Content-Length", "X-Content-Type-Options":
		default:
			h[k] = vv
		}
	}
	h["Content-Type"] = []string{ct}
	h["Grpc-Status"] = []string{strconv.Itoa(grpcStatusOf(resp.Status))}
	h["Grpc-Message"] = []string{grpcPercentEncode(localMessage(resp))}
	return &filter.Response{Status: http.StatusOK, Header: h, Body: []byte{}, Local: true}
}

// localMessage is what a local response says: the reason of the
// gateway's JSON error body, a short text body, or the status text.
func localMessage(resp *filter.Response) string {
	var e struct {
		Error string `json:"error"`
	}
	if len(resp.Body) > 0 && json.Unmarshal(resp.Body, &e) == nil && e.Error != "" {
		return e.Error
	}
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/plain") && len(resp.Body) > 0 && len(resp.Body) <= 1024 {
		return strings.TrimSpace(string(resp.Body))
	}
	return http.StatusText(resp.Status)
}

// grpcPercentEncode encodes a grpc-message value: bytes outside
// printable ASCII, and '%', as %XX (gRPC over HTTP/2 spec).
func grpcPercentEncode(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '%' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '%' {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// grpc-timeout (gRPC over HTTP/2 spec: 1 to 8 digits and a unit, H M S m
// u n) is the client's deadline for the call. It bounds the upstream call,
// capped by the upstream's own request timeout, and is forwarded as what
// is left of it, as Envoy does with grpc_timeout_header_max.

// parseGRPCTimeout reads a grpc-timeout value.
func parseGRPCTimeout(v []string) (time.Duration, bool) {
	if len(v) != 1 || len(v[0]) < 2 || len(v[0]) > 9 {
		return 0, false
	}
	s := v[0]
	var n int64
	for i := 0; i < len(s)-1; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	var unit time.Duration
	switch s[len(s)-1] {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	default:
		return 0, false
	}
	if unit >= time.Minute && n > int64(math.MaxInt64/unit) {
		return math.MaxInt64, true
	}
	return time.Duration(n) * unit, true
}

// formatGRPCTimeout writes d as a grpc-timeout value: in the finest unit
// whose count fits in 8 digits, at least 1, rounded up, so that the
// upstream's deadline never falls before the gateway's own: its reset
// then always finds the gateway's deadline passed (a timeout, not a
// broken upstream).
func formatGRPCTimeout(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		unit string
	}{{time.Nanosecond, "n"}, {time.Microsecond, "u"}, {time.Millisecond, "m"}, {time.Second, "S"}, {time.Minute, "M"}} {
		n := d / u.d
		if d%u.d > 0 {
			n++ // without d+u.d-1, which overflows near the largest d
		}
		if n < 1e8 {
			return strconv.FormatInt(max(int64(n), 1), 10) + u.unit
		}
	}
	return strconv.FormatInt(min(int64(d/time.Hour), 99999999), 10) + "H"
}
