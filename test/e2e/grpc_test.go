package e2e

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

const grpcConfig = `
listeners:
  - address: "{{.listen}}"
    h2c: true
admin: { address: "{{.admin}}" }
upstreams:
  health:
    protocol: h2c
    targets: [{ url: "http://{{.grpc}}" }]
  dead:
    protocol: h2c
    targets: [{ url: "http://127.0.0.1:1" }]
routes:
  - name: health
    match: { prefix: /grpc.health.v1.Health/ }
    upstream: health
  - name: dead
    match: { prefix: /dead.Service/ }
    upstream: dead
  - name: closed
    match: { prefix: /closed.Service/ }
    filters: [{ request_termination: { status: 403, message: "closed for maintenance: 100% off" } }]
    upstream: health
`

// grpcHealthServer is a real grpc-go server with the standard health
// service: "" and "ok" serving, "down" not serving, others unknown.
func grpcHealthServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("ok", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("down", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return ln.Addr().String()
}

// TestGRPCThroughGateway: grpc-go on both sides over h2c. A gRPC server
// answers most errors trailers-only (one HEADERS frame with END_STREAM
// carrying grpc-status, gRPC over HTTP/2 spec); the client must get the
// server's code and message, not "server closed the stream without
// sending trailers" (issue 24).
func TestGRPCThroughGateway(t *testing.T) {
	needBinary(t)
	g := startGateway(t, grpcConfig, vars{"grpc": grpcHealthServer(t)})
	conn, err := grpc.NewClient(g.Listen, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	for _, tc := range []struct {
		service string
		want    healthpb.HealthCheckResponse_ServingStatus
	}{{"", healthpb.HealthCheckResponse_SERVING}, {"ok", healthpb.HealthCheckResponse_SERVING}, {"down", healthpb.HealthCheckResponse_NOT_SERVING}} {
		resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: tc.service})
		if err != nil || resp.GetStatus() != tc.want {
			t.Errorf("Check(%q) = %v, %v; want %v", tc.service, resp.GetStatus(), err, tc.want)
		}
	}

	// Trailers-only: the health server's NotFound for an unknown service.
	_, err = client.Check(ctx, &healthpb.HealthCheckRequest{Service: "nope"})
	if st, _ := status.FromError(err); st.Code() != codes.NotFound || st.Message() != "unknown service" {
		t.Errorf("Check(nope) = %v; want the server's NotFound \"unknown service\"", err)
	}
	// The connection is still good after a trailers-only answer.
	if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: "ok"}); err != nil {
		t.Errorf("Check(ok) after a trailers-only answer: %v", err)
	}

	// What the gateway answers itself reaches a gRPC client as a gRPC
	// status, as Envoy's local replies do, never as an HTTP error with a
	// JSON body (which grpc-go reports as Unavailable/Unknown "unexpected
	// HTTP status code").
	for _, tc := range []struct {
		method string
		code   codes.Code
		msg    string
	}{
		{"/nowhere.Service/Call", codes.Unimplemented, "no route matches POST /nowhere.Service/Call"},
		{"/dead.Service/Call", codes.Unavailable, "upstream connect failure"},
		{"/closed.Service/Call", codes.PermissionDenied, "closed for maintenance: 100% off"},
	} {
		err := conn.Invoke(ctx, tc.method, &healthpb.HealthCheckRequest{}, &healthpb.HealthCheckResponse{})
		st, _ := status.FromError(err)
		if st.Code() != tc.code || st.Message() != tc.msg {
			t.Errorf("%s: %v; want %v %q", tc.method, err, tc.code, tc.msg)
		}
	}
}

const grpcHealthCheckConfig = head + `
upstreams:
  serving:
    protocol: h2c
    targets: [{ url: "http://{{.grpc}}" }]
    health: { active: { grpc: { service: ok }, interval: 1s, timeout: 1s, unhealthy_threshold: 1 } }
  failing:
    protocol: h2c
    targets: [{ url: "http://{{.grpc}}" }]
    health: { active: { grpc: { service: down }, interval: 1s, timeout: 1s, unhealthy_threshold: 1 } }
routes:
  - { name: serving, match: { prefix: /a }, upstream: serving }
  - { name: failing, match: { prefix: /b }, upstream: failing }
`

// TestGRPCHealthCheckThroughBinary: an upstream's active check asks the
// target's gRPC health service; NOT_SERVING takes the target out.
func TestGRPCHealthCheckThroughBinary(t *testing.T) {
	needBinary(t)
	g := startGateway(t, grpcHealthCheckConfig, vars{"grpc": grpcHealthServer(t)})
	if err := poll(30*time.Second, func() error {
		for _, u := range upstreams(g) {
			tg := u.Targets[0]
			if u.Name == "failing" && (tg.Available || tg.Healthy) {
				return fmt.Errorf("failing: target still in: %+v", tg)
			}
			if u.Name == "serving" && !tg.Healthy {
				return fmt.Errorf("serving: target out: %+v", tg)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

const grpcDeadlineConfig = `
listeners:
  - address: "{{.listen}}"
    h2c: true
admin: { address: "{{.admin}}" }
upstreams:
  open:
    protocol: h2c
    targets: [{ url: "http://{{.grpc}}" }]
  capped:
    protocol: h2c
    targets: [{ url: "http://{{.grpc}}" }]
    timeouts: { request: 300ms }
routes:
  - { name: capped, match: { prefix: /capped.S/ }, upstream: capped }
  - { name: open, upstream: open }
`

// TestGRPCDeadlines: the client's grpc-timeout reaches the server reduced
// by what the gateway spent, an upstream request timeout shorter than it
// caps it (the client then gets DEADLINE_EXCEEDED), and a client cancel
// reaches the server at once (issue 24).
func TestGRPCDeadlines(t *testing.T) {
	needBinary(t)
	type call struct {
		method   string
		deadline time.Duration // what the server saw left; 0: none
	}
	arrived, cancelled := make(chan call, 8), make(chan string, 8)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		method, _ := grpc.MethodFromServerStream(stream)
		var req healthpb.HealthCheckRequest
		if err := stream.RecvMsg(&req); err != nil {
			return err
		}
		c := call{method: method}
		if d, ok := stream.Context().Deadline(); ok {
			c.deadline = time.Until(d)
		}
		arrived <- c
		if req.Service == "quick" {
			return stream.SendMsg(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING})
		}
		<-stream.Context().Done() // held until the deadline or the cancel
		cancelled <- method
		return stream.Context().Err()
	}))
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	g := startGateway(t, grpcDeadlineConfig, vars{"grpc": ln.Addr().String()})
	conn, err := grpc.NewClient(g.Listen, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	invoke := func(ctx context.Context, method, service string) error {
		return conn.Invoke(ctx, method, &healthpb.HealthCheckRequest{Service: service}, &healthpb.HealthCheckResponse{})
	}

	// The client's deadline is forwarded, less what has passed.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := invoke(ctx, "/open.S/Quick", "quick"); err != nil {
		t.Fatal(err)
	}
	if c := <-arrived; c.deadline <= 0 || c.deadline > 60*time.Second {
		t.Errorf("the server saw %v left of a 60s deadline, want (0, 60s]", c.deadline)
	}

	// The upstream's 300ms request timeout caps a 60s deadline: the server
	// is told so, and the client gets DEADLINE_EXCEEDED from the gateway.
	err = invoke(ctx, "/capped.S/Hold", "")
	if st, _ := status.FromError(err); st.Code() != codes.DeadlineExceeded {
		t.Errorf("capped call: %v, want DeadlineExceeded", err)
	}
	if c := <-arrived; c.deadline <= 0 || c.deadline > 10*time.Second {
		t.Errorf("the server saw %v left under a 300ms cap, want far less than the client's 60s", c.deadline)
	}
	if m := <-cancelled; m != "/capped.S/Hold" {
		t.Errorf("cancelled %s", m)
	}

	// A client cancel ends the upstream call (its context) at once.
	cctx, ccancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- invoke(cctx, "/open.S/Hold", "") }()
	if c := <-arrived; c.method != "/open.S/Hold" || c.deadline != 0 {
		t.Errorf("held call %+v, want no deadline (the client set none)", c)
	}
	ccancel()
	select {
	case m := <-cancelled:
		if m != "/open.S/Hold" {
			t.Errorf("cancelled %s", m)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the client's cancel never reached the server")
	}
	if st, _ := status.FromError(<-done); st.Code() != codes.Canceled {
		t.Errorf("cancelled call: %v, want Canceled", st.Err())
	}
}
