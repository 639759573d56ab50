package upstream

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/wasmgate/wasmgate/core/config"
)

// A gRPC health check against grpc-go's own health service over h2c: a
// target is in while its service is SERVING and out when it is not, or
// when the service is unknown (a trailers-only NotFound).
func TestGRPCHealthCheck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	hs.SetServingStatus("orders", healthpb.HealthCheckResponse_SERVING)

	check := func(service string) *Upstream {
		return newWith(t, &config.Upstream{
			Protocol: "h2c",
			Targets:  []config.Target{{URL: "http://" + ln.Addr().String()}},
			Health: config.Health{Active: &config.ActiveHealth{
				GRPC: &config.GRPCHealth{Service: service}, HealthyThreshold: 1, UnhealthyThreshold: 1,
				Interval: config.Duration(60 * time.Second), Timeout: config.Duration(60 * time.Second)}},
		}, options{})
	}
	ctx := context.Background()
	u := check("orders")
	u.CheckNow(ctx)
	if st := u.Status().Targets[0]; !st.Healthy || !u.Targets()[0].Available() {
		t.Fatalf("SERVING: %+v, want healthy", st)
	}
	hs.SetServingStatus("orders", healthpb.HealthCheckResponse_NOT_SERVING)
	u.CheckNow(ctx)
	if st := u.Status().Targets[0]; st.Healthy || st.LastCheck != "serving status 2, want SERVING (1)" {
		t.Errorf("NOT_SERVING: %+v, want unhealthy, saying why", st)
	}
	unknown := check("nope")
	unknown.CheckNow(ctx)
	if st := unknown.Status().Targets[0]; st.Healthy || !strings.Contains(st.LastCheck, `grpc-status "5": unknown service`) {
		t.Errorf("unknown service: %+v, want unhealthy with NotFound", st)
	}
}

func TestGRPCHealthMessages(t *testing.T) {
	if got := grpcHealthRequest("ab"); string(got) != "\x00\x00\x00\x00\x04\x0a\x02ab" {
		t.Errorf("request %q", got)
	}
	if got := grpcHealthRequest(""); string(got) != "\x00\x00\x00\x00\x00" {
		t.Errorf("empty request %q", got)
	}
	for in, want := range map[string]uint64{
		"\x00\x00\x00\x00\x02\x08\x01":           1,
		"\x00\x00\x00\x00\x00":                   0, // proto3 omits UNKNOWN
		"\x00\x00\x00\x00\x06\x12\x02xx\x08\x02": 2, // an unknown field first
	} {
		if got, err := grpcHealthServing([]byte(in)); err != nil || got != want {
			t.Errorf("%q: %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "\x01\x00\x00\x00\x00", "\x00\x00\x00\x00\x05\x08", "\x00\x00\x00\x00\x02\x0a\x05", "\x00\x00\x00\x00\x01\x0b"} {
		if _, err := grpcHealthServing([]byte(bad)); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}
