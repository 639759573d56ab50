package proxy

import (
	"net/http"
	"testing"

	"github.com/wasmgate/wasmgate/core/filter"
)

func TestGRPCLocal(t *testing.T) {
	in := filter.Error(http.StatusTooManyRequests, "rate limited: 100% of\nquota")
	in.Header.Set("Retry-After", "3")
	out := grpcLocal(in)
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
