package e2e

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const grpcStreamConfig = `
listeners:
  - address: "{{.listen}}"
    h2c: true
admin: { address: "{{.admin}}" }
server: { drain_timeout: 20s }
upstreams:
  s:
    protocol: h2c
    targets: [{ url: "http://{{.grpc}}" }]
routes:
  - { name: s, match: { prefix: /s.S/ }, upstream: s }
`

// grpcStreamConfigV2 adds an unrelated route: a reload the streams on
// route s must not notice.
const grpcStreamConfigV2 = grpcStreamConfig + `  - { name: other, match: { path: /other }, respond: { body: other } }
`

// streamServer is a grpc-go server of streaming methods with
// wrapperspb messages; flow-control windows fixed at 64 KiB (no BDP
// growth), so backpressure shows at known sizes.
type streamServer struct {
	addr      string
	cancelled chan string // a method whose stream context ended before it finished
	opened    chan string
	// flood: the server sends size-byte messages while sent counts them;
	// drain: the server receives only once allowed.
	sent, received atomic.Int64
	allowRecv      chan struct{}
}

const floodSize = 64 << 10

func newStreamServer(t *testing.T, opts ...grpc.ServerOption) *streamServer {
	t.Helper()
	s := &streamServer{cancelled: make(chan string, 8), opened: make(chan string, 8), allowRecv: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(append(opts, grpc.InitialWindowSize(64<<10), grpc.InitialConnWindowSize(64<<10),
		grpc.UnknownServiceHandler(s.handle))...)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	s.addr = ln.Addr().String()
	return s
}

func (s *streamServer) handle(_ any, stream grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(stream)
	s.opened <- method
	ctx := stream.Context()
	switch method[strings.LastIndexByte(method, '/'):] { // any service's
	case "/Sum": // client streaming: values must be 0, 1, 2, ... in order
		var n int64
		for {
			var v wrapperspb.Int64Value
			err := stream.RecvMsg(&v)
			if err == io.EOF {
				return stream.SendMsg(wrapperspb.Int64(n))
			}
			if err != nil {
				return err
			}
			if v.Value != n {
				return status.Errorf(codes.DataLoss, "message %d arrived as %d", n, v.Value)
			}
			n++
		}
	case "/Count": // server streaming: 0 .. n-1
		var v wrapperspb.Int64Value
		if err := stream.RecvMsg(&v); err != nil {
			return err
		}
		for i := range v.Value {
			if err := stream.SendMsg(wrapperspb.Int64(i)); err != nil {
				return err
			}
		}
		return nil
	case "/Echo": // bidi: each message back as it comes
		for {
			var v wrapperspb.Int64Value
			err := stream.RecvMsg(&v)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				if ctx.Err() != nil {
					s.cancelled <- method
				}
				return err
			}
			if err := stream.SendMsg(&v); err != nil {
				return err
			}
		}
	case "/Flood": // n messages of floodSize, as fast as flow control lets
		var v wrapperspb.Int64Value
		if err := stream.RecvMsg(&v); err != nil {
			return err
		}
		msg := wrapperspb.Bytes(make([]byte, floodSize))
		for range v.Value {
			if err := stream.SendMsg(msg); err != nil {
				return err
			}
			s.sent.Add(floodSize)
		}
		return nil
	case "/Drain": // receives only once allowRecv is closed
		select {
		case <-s.allowRecv:
		case <-ctx.Done():
			return ctx.Err()
		}
		var n int64
		for {
			var v wrapperspb.BytesValue
			err := stream.RecvMsg(&v)
			if err == io.EOF {
				return stream.SendMsg(wrapperspb.Int64(n))
			}
			if err != nil {
				return err
			}
			n++
		}
	}
	return status.Error(codes.Unimplemented, method)
}

func streamClient(t *testing.T, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(64 << 10), grpc.WithInitialConnWindowSize(64 << 10)}, opts...)
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

var bidi = &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}

// echo sends v on a bidi Echo stream and expects it back.
func echo(t *testing.T, cs grpc.ClientStream, v int64) {
	t.Helper()
	if err := cs.SendMsg(wrapperspb.Int64(v)); err != nil {
		t.Fatalf("send %d: %v", v, err)
	}
	var got wrapperspb.Int64Value
	if err := cs.RecvMsg(&got); err != nil || got.Value != v {
		t.Fatalf("echo of %d: %d, %v", v, got.Value, err)
	}
}

// finish half-closes a stream and expects it to end with OK.
func finish(t *testing.T, cs grpc.ClientStream) {
	t.Helper()
	if err := cs.CloseSend(); err != nil {
		t.Fatal(err)
	}
	var v wrapperspb.Int64Value
	if err := cs.RecvMsg(&v); err != io.EOF {
		t.Fatalf("end of stream: %v, want io.EOF (status OK)", err)
	}
}

// settled polls f until its value stops moving for a second (within
// 30s), for a side that must come to a stop because the other does not
// read: a gateway that buffered without bound would let it run to its end.
func settled(f func() int64) int64 {
	last, still := f(), 0
	for deadline := time.Now().Add(30 * time.Second); still < 10 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond) // observing a stop, not waiting for an event
		if v := f(); v != last {
			last, still = v, 0
		} else {
			still++
		}
	}
	return last
}

// TestGRPCStreaming: client-, server- and bidi streaming through the
// binary with grpc-go on both sides: order, no buffering (ping-pong),
// flow control end to end both ways, a client cancel reaching the
// server (issue 24).
func TestGRPCStreaming(t *testing.T) {
	needBinary(t)
	s := newStreamServer(t)
	g := startGateway(t, grpcStreamConfig, vars{"grpc": s.addr})
	conn := streamClient(t, g.Listen)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	t.Run("client streaming", func(t *testing.T) {
		cs, err := conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true}, "/s.S/Sum")
		if err != nil {
			t.Fatal(err)
		}
		for i := range int64(1000) {
			if err := cs.SendMsg(wrapperspb.Int64(i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := cs.CloseSend(); err != nil {
			t.Fatal(err)
		}
		var n wrapperspb.Int64Value
		if err := cs.RecvMsg(&n); err != nil || n.Value != 1000 {
			t.Errorf("the server counted %d in order, %v; want 1000", n.Value, err)
		}
	})
	t.Run("server streaming", func(t *testing.T) {
		cs, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/s.S/Count")
		if err != nil {
			t.Fatal(err)
		}
		if err := cs.SendMsg(wrapperspb.Int64(1000)); err != nil {
			t.Fatal(err)
		}
		cs.CloseSend()
		for i := int64(0); ; i++ {
			var v wrapperspb.Int64Value
			err := cs.RecvMsg(&v)
			if err == io.EOF {
				if i != 1000 {
					t.Errorf("%d messages, want 1000", i)
				}
				break
			}
			if err != nil || v.Value != i {
				t.Fatalf("message %d: %d, %v", i, v.Value, err)
			}
		}
	})
	t.Run("bidi ping-pong", func(t *testing.T) {
		// Each message must come back before the next is sent: a gateway
		// that held either direction's bytes would stall the exchange.
		cs, err := conn.NewStream(ctx, bidi, "/s.S/Echo")
		if err != nil {
			t.Fatal(err)
		}
		for i := range int64(200) {
			echo(t, cs, i)
		}
		finish(t, cs)
	})
	t.Run("backpressure to the server", func(t *testing.T) {
		// The client reads nothing: the server must come to a stop after
		// the windows on the way are full (client 64 KiB, the gateway's
		// upstream stream window, grpc-go's write quota), not send all.
		const n = 1024 // 64 MiB
		cs, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/s.S/Flood")
		if err != nil {
			t.Fatal(err)
		}
		if err := cs.SendMsg(wrapperspb.Int64(n)); err != nil {
			t.Fatal(err)
		}
		cs.CloseSend()
		stop := settled(s.sent.Load)
		t.Logf("the server stopped after %d KiB of %d MiB while the client read nothing", stop>>10, n*floodSize>>20)
		if stop >= 16<<20 {
			t.Errorf("the server sent %d MiB to a client that read nothing: buffered on the way", stop>>20)
		}
		for i := range n {
			var v wrapperspb.BytesValue
			if err := cs.RecvMsg(&v); err != nil || len(v.Value) != floodSize {
				t.Fatalf("message %d: %d bytes, %v", i, len(v.Value), err)
			}
		}
		if err := cs.RecvMsg(new(wrapperspb.BytesValue)); err != io.EOF {
			t.Errorf("end: %v", err)
		}
	})
	t.Run("backpressure to the client", func(t *testing.T) {
		// The server reads nothing until allowed: the client's sends must
		// block once the windows are full (the gateway's 1 MiB stream
		// window as an h2 server, the server's 64 KiB). 8 MiB in all: the
		// route's max_request_body (16 MiB by default) counts a client
		// stream's whole length.
		const n = 128
		cs, err := conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true}, "/s.S/Drain")
		if err != nil {
			t.Fatal(err)
		}
		var sent atomic.Int64
		sendErr := make(chan error, 1)
		go func() {
			msg := wrapperspb.Bytes(make([]byte, floodSize))
			for range n {
				if err := cs.SendMsg(msg); err != nil {
					sendErr <- err
					return
				}
				sent.Add(floodSize)
			}
			sendErr <- cs.CloseSend()
		}()
		stop := settled(sent.Load)
		t.Logf("the client stopped after %d KiB of %d MiB while the server read nothing", stop>>10, n*floodSize>>20)
		if stop >= 4<<20 {
			t.Errorf("the client sent %d MiB to a server that read nothing: buffered on the way", stop>>20)
		}
		close(s.allowRecv)
		if err := <-sendErr; err != nil {
			t.Fatalf("send: %v; the stream: %v", err, cs.RecvMsg(new(wrapperspb.Int64Value)))
		}
		var got wrapperspb.Int64Value
		if err := cs.RecvMsg(&got); err != nil || got.Value != n {
			t.Errorf("the server received %d, %v; want %d", got.Value, err, n)
		}
	})
	t.Run("client cancel", func(t *testing.T) {
		cctx, ccancel := context.WithCancel(ctx)
		cs, err := conn.NewStream(cctx, bidi, "/s.S/Echo")
		if err != nil {
			t.Fatal(err)
		}
		echo(t, cs, 1)
		ccancel()
		select {
		case m := <-s.cancelled:
			if m != "/s.S/Echo" {
				t.Errorf("cancelled %s", m)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the client's cancel never reached the server's stream")
		}
		if err := cs.RecvMsg(new(wrapperspb.Int64Value)); status.Code(err) != codes.Canceled {
			t.Errorf("after cancel: %v", err)
		}
	})
}

// TestGRPCStreamOutlivesReloadAndDrain: a long-lived bidi stream goes on
// across a reload of unrelated config, and on SIGTERM is drained: it
// finishes normally, and only then does the gateway exit (0).
func TestGRPCStreamOutlivesReloadAndDrain(t *testing.T) {
	needBinary(t)
	s := newStreamServer(t)
	g := startGateway(t, grpcStreamConfig, vars{"grpc": s.addr}, startOptions{Symlinked: true})
	conn := streamClient(t, g.Listen)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs, err := conn.NewStream(ctx, bidi, "/s.S/Echo")
	if err != nil {
		t.Fatal(err)
	}
	echo(t, cs, 1)

	g.WriteConfig(grpcStreamConfigV2, nil)
	if code, body := g.Reload(); code != 200 {
		t.Fatalf("POST /reload: %d %s", code, body)
	}
	if resp, body := g.Get("/other"); resp.StatusCode != 200 || string(body) != "other" {
		t.Fatalf("the reloaded config is not serving: %d %q", resp.StatusCode, body)
	}
	echo(t, cs, 2) // the same stream, after the reload

	g.Signal(syscall.SIGTERM)
	if err := poll(10*time.Second, func() error {
		c, err := net.DialTimeout("tcp", g.Listen, time.Second)
		if err != nil {
			return nil
		}
		c.Close()
		return errors.New("the listener still accepts connections")
	}); err != nil {
		t.Fatal(err)
	}
	if !g.Running() {
		t.Fatal("wasmgate exited with a gRPC stream open")
	}
	for i := int64(3); i < 10; i++ {
		echo(t, cs, i) // still flowing while the gateway drains
	}
	finish(t, cs)
	if code := g.Wait(15 * time.Second); code != 0 {
		t.Errorf("exit status %d after draining, want 0", code)
	}
	select {
	case m := <-s.cancelled:
		t.Errorf("%s was cut, not drained", m)
	default:
	}
}
