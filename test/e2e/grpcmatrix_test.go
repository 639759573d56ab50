package e2e

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// grpcMatrixConfig is one gateway for the gRPC matrix, over h2c or TLS
// (listener and upstream blocks from the test). Every route's refusal
// has its gRPC code in TestGRPCMatrix.
const grpcMatrixConfig = `
listeners:
  - address: "{{.listen}}"
{{.listener}}
admin: { address: "{{.admin}}" }
consumers:
  - { name: app, api_keys: [{ sha256: "{{.keyhash}}" }] }
upstreams:
  svc:
    {{.upstream}}
    targets: [{ url: "{{.scheme}}://{{.grpc}}" }]
  s:
    {{.upstream}}
    targets: [{ url: "{{.scheme}}://{{.stream}}" }]
    circuit_breaker: { max_requests: 1 }
  slow:
    {{.upstream}}
    targets: [{ url: "{{.scheme}}://{{.stream}}" }]
    timeouts: { request: 200ms }
  dead:
    {{.upstream}}
    targets: [{ url: "{{.scheme}}://127.0.0.1:1" }]
routes:
  - name: svc
    match: { prefix: /test.Svc/ }
    filters: [{ grpc_web: {} }]
    upstream: svc
  - { name: auth, match: { prefix: /auth.Svc/ }, filters: [{ apikey: {} }], upstream: svc }
  - name: limited
    match: { prefix: /limited.Svc/ }
    filters: [{ rate_limit: { key: client_ip, rate: 1/m, burst: 1 } }]
    upstream: svc
  - { name: small, match: { prefix: /small.Svc/ }, filters: [{ body_limit: { max: 64 } }], upstream: svc }
  - { name: s, match: { prefix: /s.S/ }, upstream: s }
  - { name: slow, match: { prefix: /slow.S/ }, upstream: slow }
  - { name: dead, match: { prefix: /dead.Svc/ }, upstream: dead }
`

// TestGRPCMatrix: grpc-go through the binary over h2c and over TLS (h2 by
// ALPN on the listener, h2 over TLS to the upstreams): every status code
// with its details from a trailers-only answer, each refusal of the
// gateway as its gRPC code, streaming, and gRPC-Web on a route that
// native gRPC shares.
func TestGRPCMatrix(t *testing.T) {
	needBinary(t)
	for _, mode := range []string{"h2c", "tls"} {
		t.Run(mode, func(t *testing.T) { grpcMatrix(t, mode) })
	}
}

func grpcMatrix(t *testing.T, mode string) {
	var (
		serverOpts []grpc.ServerOption
		dialOpts   []grpc.DialOption
		web        = http.DefaultClient
		v          = vars{"keyhash": sha256hex("app-key")}
	)
	if mode == "tls" {
		dir := t.TempDir()
		gw := newCert(t, dir, "gw.test", nil, false, false)
		up := newCert(t, dir, "up.test", nil, false, false)
		serverOpts = append(serverOpts, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{up.Pair()}})))
		clientTLS := &tls.Config{ServerName: "gw.test", RootCAs: certPool(gw)}
		dialOpts = append(dialOpts, grpc.WithTransportCredentials(credentials.NewTLS(clientTLS)))
		web = &http.Client{Transport: &http.Transport{TLSClientConfig: clientTLS, ForceAttemptHTTP2: true}}
		v["listener"] = `    tls: { certificates: [{ cert: "` + gw.CertFile + `", key: "` + gw.KeyFile + `" }] }`
		v["upstream"] = `protocol: auto
    tls: { ca: "` + up.CertFile + `", server_name: up.test }`
		v["scheme"] = "https"
	} else {
		v["listener"] = "    h2c: true"
		v["upstream"] = "protocol: h2c"
		v["scheme"] = "http"
	}
	v["grpc"] = grpcTestServer(t, nil, serverOpts...)
	s := newStreamServer(t, serverOpts...)
	v["stream"] = s.addr
	g := startGateway(t, grpcMatrixConfig, v)
	conn := streamClient(t, g.Listen, dialOpts...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	unary := func(ctx context.Context, method, service string) (*healthpb.HealthCheckResponse, error) {
		out := new(healthpb.HealthCheckResponse)
		err := conn.Invoke(ctx, method, &healthpb.HealthCheckRequest{Service: service}, out)
		return out, err
	}

	if out, err := unary(ctx, "/test.Svc/Unary", "x"); err != nil || out.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("unary: %v, %v", out, err)
	}

	// Every code, answered trailers-only by the server, with a message
	// to percent-encode and details: all three arrive as sent.
	for c := codes.Code(1); c <= 16; c++ {
		_, err := unary(ctx, "/test.Svc/Unary", "code:"+itoa(int(c)))
		got, want := status.Convert(err).Proto(), detailedStatus(c).Proto()
		if !proto.Equal(got, want) {
			t.Errorf("code %d: got %v, want %v", c, got, want)
		}
	}

	// What the gateway refuses arrives as the gRPC code Envoy would send.
	hold, holdCancel := context.WithCancel(ctx)
	defer holdCancel()
	held, err := conn.NewStream(hold, &grpc.StreamDesc{ClientStreams: true}, "/s.S/Drain")
	if err != nil {
		t.Fatal(err)
	}
	held.SendMsg(wrapperspb.Bytes(nil))
	if m := <-s.opened; m != "/s.S/Drain" {
		t.Fatalf("opened %s", m)
	}
	keyed := metadata.AppendToOutgoingContext(ctx, "x-api-key", "app-key")
	badKey := metadata.AppendToOutgoingContext(ctx, "x-api-key", "wrong")
	for _, tc := range []struct {
		name    string
		ctx     context.Context
		method  string
		service string
		code    codes.Code
	}{
		{"no route", ctx, "/nowhere.Svc/Unary", "", codes.Unimplemented},
		{"no key", ctx, "/auth.Svc/Unary", "", codes.Unauthenticated},
		{"bad key", badKey, "/auth.Svc/Unary", "", codes.Unauthenticated},
		{"good key", keyed, "/auth.Svc/Unary", "", codes.OK},
		{"first within the rate", ctx, "/limited.Svc/Unary", "", codes.OK},
		{"rate limited", ctx, "/limited.Svc/Unary", "", codes.Unavailable},
		{"within the body limit", ctx, "/small.Svc/Unary", "x", codes.OK},
		{"body over the limit", ctx, "/small.Svc/Unary", strings.Repeat("x", 100), codes.ResourceExhausted},
		{"breaker full", ctx, "/s.S/Echo", "", codes.Unavailable},
		{"upstream down", ctx, "/dead.Svc/Unary", "", codes.Unavailable},
		{"upstream timeout", ctx, "/slow.S/Drain", "", codes.DeadlineExceeded},
	} {
		_, err := unary(tc.ctx, tc.method, tc.service)
		if got := status.Code(err); got != tc.code {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.code)
		}
	}
	holdCancel()
	// The breaker's slot is free once the gateway has ended the held call.
	if err := poll(10*time.Second, func() error { _, err := unary(ctx, "/s.S/Echo", ""); return err }); err != nil {
		t.Fatalf("the breaker never let a call through after the held one ended: %v", err)
	}

	// Streaming both ways, in order, message by message.
	cs, err := conn.NewStream(ctx, bidi, "/s.S/Echo")
	if err != nil {
		t.Fatal(err)
	}
	for i := range int64(50) {
		echo(t, cs, i)
	}
	finish(t, cs)
	cs, err = conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/s.S/Count")
	if err != nil {
		t.Fatal(err)
	}
	cs.SendMsg(wrapperspb.Int64(300))
	cs.CloseSend()
	for i := int64(0); ; i++ {
		var got wrapperspb.Int64Value
		if err := cs.RecvMsg(&got); err == io.EOF && i == 300 {
			break
		} else if err != nil || got.Value != i {
			t.Fatalf("server stream message %d: %d, %v", i, got.Value, err)
		}
	}

	// gRPC-Web on the same route as native gRPC (h2 from the browser
	// over TLS, HTTP/1.1 over plain).
	base := "http://" + g.Listen
	if mode == "tls" {
		base = "https://" + g.Listen
	}
	for _, ct := range []string{"application/grpc-web+proto", "application/grpc-web-text"} {
		resp := webCall(t, web, base, "/test.Svc/Unary", ct, &healthpb.HealthCheckRequest{Service: "code:9"})
		if mode == "tls" && resp.ProtoMajor != 2 {
			t.Errorf("gRPC-Web over TLS spoke %s, want HTTP/2", resp.Proto)
		}
		_, tr := readWebCall(t, resp)
		checkWebStatus(t, tr, detailedStatus(codes.FailedPrecondition))
	}
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
