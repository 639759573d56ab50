package proxy

import (
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/filter"
)

func TestGRPCLocal(t *testing.T) {
	in := filter.Error(http.StatusTooManyRequests, "rate limited: 100% of\nquota")
	in.Header.Set("Retry-After", "3")
	out := GRPCLocal(in, grpcReplyType("application/grpc+proto"))
	if out.Status != 200 || len(out.Body) != 0 || !out.Local {
		t.Fatalf("status %d, %d body bytes, local %v; want 200, none, local", out.Status, len(out.Body), out.Local)
	}
	for k, want := range map[string]string{
		"Content-Type": "application/grpc", "Grpc-Status": "14", "Retry-After": "3",
		"Grpc-Message": "rate limited: 100%25 of%0Aquota", "Content-Length": "", "X-Content-Type-Options": "",
	} {
		if got := out.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if in.Header.Get("Grpc-Status") != "" || in.Status != 429 {
		t.Error("the local response it was made from changed")
	}
	for status, code := range map[int]int{400: 13, 401: 16, 403: 7, 404: 12, 408: 4, 413: 8, 429: 14, 502: 14, 503: 14, 504: 4, 500: 2, 418: 2} {
		if got := grpcStatusOf(status); got != code {
			t.Errorf("HTTP %d: gRPC %d, want %d", status, got, code)
		}
	}
	if got := localMessage(&filter.Response{Status: 503, Header: http.Header{}}); got != "Service Unavailable" {
		t.Errorf("no body: %q", got)
	}
}

// A gRPC-Web client refused before a grpc_web filter translated its call
// (or on a route without one) is answered in its own protocol.
func TestGRPCReplyType(t *testing.T) {
	for ct, want := range map[string]string{
		"application/grpc":                "application/grpc",
		"application/grpc+proto":          "application/grpc",
		"application/grpc-web":            "application/grpc-web+proto",
		"Application/gRPC-Web+proto":      "application/grpc-web+proto",
		"application/grpc-web-text":       "application/grpc-web-text+proto",
		"application/grpc-web-text+proto": "application/grpc-web-text+proto",
	} {
		if got := grpcReplyType(ct); got != want {
			t.Errorf("%q: %q, want %q", ct, got, want)
		}
	}
}

func TestGRPCTimeoutValues(t *testing.T) {
	for in, want := range map[string]time.Duration{"1H": time.Hour, "10M": 10 * time.Minute, "5S": 5 * time.Second,
		"250m": 250 * time.Millisecond, "99999999u": 99999999 * time.Microsecond, "7n": 7} {
		if got, ok := parseGRPCTimeout([]string{in}); !ok || got != want {
			t.Errorf("%q: %v %v, want %v", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "m", "123456789m", "1x", "-1m", "1.5S", " 1S"} {
		if _, ok := parseGRPCTimeout([]string{bad}); ok {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, ok := parseGRPCTimeout([]string{"1S", "2S"}); ok {
		t.Error("two values accepted")
	}
	if d, ok := parseGRPCTimeout([]string{"99999999H"}); !ok || d <= 0 {
		t.Errorf("99999999H: %v %v, want a saturated positive duration", d, ok)
	}
	for d, want := range map[time.Duration]string{0: "1n", -time.Second: "1n", 1500 * time.Microsecond: "1500000n",
		250 * time.Millisecond: "250000u", 30 * time.Second: "30000000u", 48 * time.Hour: "172800S", 1 << 62: "76861434M", 100000001: "100001u", math.MaxInt64: "2562047H"} {
		if got := formatGRPCTimeout(d); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
	}
}
