package e2e

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"time"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
)

const grpcWebConfig = `
listeners:
  - address: "{{.listen}}"
    h2c: true
admin: { address: "{{.admin}}" }
upstreams:
  svc:
    protocol: h2c
    targets: [{ url: "http://{{.grpc}}" }]
routes:
  - name: web
    match: { prefix: /test.Svc/ }
    filters:
      - cors:
          allow_origins: ["https://app.example"]
          allow_methods: [POST]
          allow_headers: [Content-Type, X-Grpc-Web, X-User-Agent, Grpc-Timeout]
          expose_headers: [Grpc-Status, Grpc-Message, Grpc-Status-Details-Bin]
      - grpc_web: {}
      - request_termination: { status: 401, message: "no token", trigger: X-Refuse }
    upstream: svc
`

// grpcTestServer is a grpc-go server of any method, with health messages
// as its requests and answers:
//   - /test.Svc/Unary echoes the request's service name back as "status"
//     SERVING, or fails with the code named by the service name "code:N"
//     (with status details);
//   - /test.Svc/Stream answers n messages for service "n", sending each
//     only once next lets it.
//
// Any service's Unary and Stream methods answer so; opts are the server's.
func grpcTestServer(t *testing.T, next <-chan struct{}, opts ...grpc.ServerOption) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(append(opts, grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		method, _ := grpc.MethodFromServerStream(stream)
		var req healthpb.HealthCheckRequest
		if err := stream.RecvMsg(&req); err != nil {
			return err
		}
		switch method[strings.LastIndexByte(method, '/'):] {
		case "/Unary":
			var code int
			if _, err := fmt.Sscanf(req.Service, "code:%d", &code); err == nil {
				return detailedStatus(codes.Code(code)).Err()
			}
			return stream.SendMsg(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING})
		case "/Stream":
			var n int
			fmt.Sscanf(req.Service, "%d", &n)
			for i := range n {
				if i > 0 {
					select {
					case <-next:
					case <-stream.Context().Done():
						return stream.Context().Err()
					}
				}
				if err := stream.SendMsg(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_ServingStatus(i % 4)}); err != nil {
					return err
				}
			}
			return status.Error(codes.OK, "")
		}
		return status.Error(codes.Unimplemented, method)
	}))...)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return ln.Addr().String()
}

// detailedStatus is a status with a message that needs percent-encoding
// and details (grpc-status-details-bin), to check both arrive intact.
func detailedStatus(c codes.Code) *status.Status {
	s := &spb.Status{Code: int32(c), Message: fmt.Sprintf("code %d: 100%% wrong ☹", c)}
	d, _ := anypb.New(durationpb.New(time.Duration(c) * time.Second))
	s.Details = []*anypb.Any{d}
	return status.FromProto(s)
}

// webCall is a hand-framed gRPC-Web call, as a browser's grpc-web client
// makes it: HTTP/1.1 POST, a length-prefixed message, base64 for -text.
func webCall(t *testing.T, c *http.Client, base, method, ct string, req proto.Message, extra ...string) *http.Response {
	t.Helper()
	msg, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	body := append([]byte{0, 0, 0, 0, 0}, msg...)
	binary.BigEndian.PutUint32(body[1:], uint32(len(msg)))
	if strings.Contains(ct, "-text") {
		body = []byte(base64.StdEncoding.EncodeToString(body))
	}
	r, _ := http.NewRequest(http.MethodPost, base+method, bytes.NewReader(body))
	r.Header.Set("Content-Type", ct)
	r.Header.Set("X-Grpc-Web", "1")
	r.Header.Set("Origin", "https://app.example")
	for i := 0; i+1 < len(extra); i += 2 {
		r.Header.Set(extra[i], extra[i+1])
	}
	resp, err := c.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// webFrame is one frame of a gRPC-Web response body.
type webFrame struct {
	trailer bool
	data    []byte
}

// webFrames reads frames from a gRPC-Web body as they come (text: the
// body is a run of padded base64 pieces, decoded 4 characters at a time,
// as a client decodes it; a piece may hold several frames).
type webFrames struct {
	r       *bufio.Reader
	text    bool
	decoded []byte
}

func (w *webFrames) read(n int) ([]byte, error) {
	if !w.text {
		b := make([]byte, n)
		_, err := io.ReadFull(w.r, b)
		return b, err
	}
	for len(w.decoded) < n {
		q := make([]byte, 4)
		if _, err := io.ReadFull(w.r, q); err != nil {
			if err == io.ErrUnexpectedEOF || (err == io.EOF && len(w.decoded) > 0) {
				return nil, fmt.Errorf("body ended inside a frame")
			}
			return nil, err
		}
		d, err := base64.StdEncoding.DecodeString(string(q))
		if err != nil {
			return nil, fmt.Errorf("body not base64 at %q: %v", q, err)
		}
		w.decoded = append(w.decoded, d...)
	}
	out := w.decoded[:n:n]
	w.decoded = w.decoded[n:]
	return out, nil
}

func (w *webFrames) next() (webFrame, error) {
	h, err := w.read(5)
	if err != nil {
		return webFrame{}, err
	}
	data, err := w.read(int(binary.BigEndian.Uint32(h[1:])))
	return webFrame{trailer: h[0]&0x80 != 0, data: data}, err
}

// trailers parses a trailer frame's header block.
func parseTrailerBlock(t *testing.T, b []byte) http.Header {
	t.Helper()
	h, err := textproto.NewReader(bufio.NewReader(io.MultiReader(bytes.NewReader(b), strings.NewReader("\r\n")))).ReadMIMEHeader()
	if err != nil {
		t.Fatalf("trailer frame %q: %v", b, err)
	}
	return http.Header(h)
}

// readWebCall reads a whole gRPC-Web answer: its messages and its
// trailers (from the trailer frame, or the headers if trailers-only).
func readWebCall(t *testing.T, resp *http.Response) (msgs [][]byte, tr http.Header) {
	t.Helper()
	if resp.StatusCode != 200 {
		t.Fatalf("HTTP %d", resp.StatusCode)
	}
	fr := &webFrames{r: bufio.NewReader(resp.Body), text: strings.HasPrefix(resp.Header.Get("Content-Type"), "application/grpc-web-text")}
	for {
		f, err := fr.next()
		if err == io.EOF {
			if tr == nil && resp.Header.Get("Grpc-Status") != "" {
				return msgs, resp.Header // trailers-only
			}
			t.Fatalf("body ended without a trailer frame")
		}
		if err != nil {
			t.Fatal(err)
		}
		if f.trailer {
			tr = parseTrailerBlock(t, f.data)
			if rest, _ := io.ReadAll(resp.Body); len(rest) > 0 {
				t.Errorf("%d bytes after the trailer frame", len(rest))
			}
			return msgs, tr
		}
		msgs = append(msgs, f.data)
	}
}

// TestGRPCWeb: a browser-style gRPC-Web client (HTTP/1.1, hand-framed)
// against a real grpc-go server behind the gateway's grpc_web filter.
func TestGRPCWeb(t *testing.T) {
	needBinary(t)
	next := make(chan struct{})
	g := startGateway(t, grpcWebConfig, vars{"grpc": grpcTestServer(t, next)})

	for _, ct := range []string{"application/grpc-web", "application/grpc-web+proto", "application/grpc-web-text"} {
		t.Run(ct, func(t *testing.T) {
			resp := webCall(t, http.DefaultClient, "http://"+g.Listen, "/test.Svc/Unary", ct, &healthpb.HealthCheckRequest{Service: "x"})
			wantCT := "application/grpc-web+proto"
			if strings.Contains(ct, "-text") {
				wantCT = "application/grpc-web-text+proto"
			}
			if got := resp.Header.Get("Content-Type"); got != wantCT {
				t.Errorf("content type %q, want %q", got, wantCT)
			}
			if got := resp.Header.Get("Access-Control-Expose-Headers"); !strings.Contains(got, "Grpc-Status") {
				t.Errorf("Access-Control-Expose-Headers %q", got)
			}
			msgs, tr := readWebCall(t, resp)
			var out healthpb.HealthCheckResponse
			if len(msgs) != 1 || proto.Unmarshal(msgs[0], &out) != nil || out.Status != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("messages %q", msgs)
			}
			if tr.Get("Grpc-Status") != "0" {
				t.Errorf("trailers %v", tr)
			}
			if len(resp.Trailer) != 0 {
				t.Errorf("HTTP trailers too: %v", resp.Trailer)
			}

			// An error status, with its message and details intact.
			resp = webCall(t, http.DefaultClient, "http://"+g.Listen, "/test.Svc/Unary", ct, &healthpb.HealthCheckRequest{Service: "code:5"})
			_, tr = readWebCall(t, resp)
			checkWebStatus(t, tr, detailedStatus(codes.NotFound))
		})
	}

	// Server streaming: each message reaches the client before the server
	// sends the next (the server waits for the client's word), so nothing
	// is buffered on the way; in binary and -text.
	for _, ct := range []string{"application/grpc-web", "application/grpc-web-text"} {
		resp := webCall(t, http.DefaultClient, "http://"+g.Listen, "/test.Svc/Stream", ct, &healthpb.HealthCheckRequest{Service: "4"})
		fr := &webFrames{r: bufio.NewReader(resp.Body), text: strings.Contains(ct, "-text")}
		for i := range 4 {
			f, err := fr.next()
			var out healthpb.HealthCheckResponse
			if err != nil || f.trailer || proto.Unmarshal(f.data, &out) != nil || int(out.Status) != i%4 {
				t.Fatalf("%s: message %d: %+v, %v", ct, i, f, err)
			}
			if i < 3 {
				next <- struct{}{} // the server sends the next only now
			}
		}
		f, err := fr.next()
		if err != nil || !f.trailer || parseTrailerBlock(t, f.data).Get("Grpc-Status") != "0" {
			t.Fatalf("%s: end of stream %+v, %v", ct, f, err)
		}
	}

	// CORS preflight, answered by the cors filter before grpc_web.
	pre, _ := http.NewRequest(http.MethodOptions, "http://"+g.Listen+"/test.Svc/Unary", nil)
	pre.Header.Set("Origin", "https://app.example")
	pre.Header.Set("Access-Control-Request-Method", "POST")
	pre.Header.Set("Access-Control-Request-Headers", "content-type,x-grpc-web,x-user-agent")
	presp, err := http.DefaultClient.Do(pre)
	if err != nil {
		t.Fatal(err)
	}
	presp.Body.Close()
	if presp.StatusCode != 204 || presp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(strings.ToLower(presp.Header.Get("Access-Control-Allow-Headers")), "x-grpc-web") {
		t.Errorf("preflight: %d %v", presp.StatusCode, presp.Header)
	}

	// What the gateway answers itself is a gRPC-Web status in the headers:
	// a filter after grpc_web, and a call no route matches.
	for _, tc := range []struct {
		method, ct string
		code       string
		extra      []string
	}{
		{"/test.Svc/Unary", "application/grpc-web-text", "16", []string{"X-Refuse", "1"}},
		{"/test.Svc/Unary", "application/grpc-web", "16", []string{"X-Refuse", "1"}},
		{"/other.Svc/Unary", "application/grpc-web-text", "12", nil},
	} {
		resp := webCall(t, http.DefaultClient, "http://"+g.Listen, tc.method, tc.ct, &healthpb.HealthCheckRequest{}, tc.extra...)
		body, _ := io.ReadAll(resp.Body)
		wantCT := "application/grpc-web+proto"
		if strings.Contains(tc.ct, "-text") {
			wantCT = "application/grpc-web-text+proto"
		}
		if resp.StatusCode != 200 || resp.Header.Get("Grpc-Status") != tc.code || resp.Header.Get("Content-Type") != wantCT || len(body) != 0 {
			t.Errorf("%s %v: %d %v %q", tc.method, tc.extra, resp.StatusCode, resp.Header, body)
		}
	}

	// A -text body that is not base64: INTERNAL, as Envoy answers 400.
	r, _ := http.NewRequest(http.MethodPost, "http://"+g.Listen+"/test.Svc/Unary", strings.NewReader("AAAA!!!!"))
	r.Header.Set("Content-Type", "application/grpc-web-text")
	bad, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	bad.Body.Close()
	if bad.StatusCode != 200 || bad.Header.Get("Grpc-Status") != "13" {
		t.Errorf("bad base64: %d %v", bad.StatusCode, bad.Header)
	}
}

// checkWebStatus compares a gRPC-Web trailer block with the status the
// server sent: code, percent-encoded message, details.
func checkWebStatus(t *testing.T, tr http.Header, want *status.Status) {
	t.Helper()
	if tr.Get("Grpc-Status") != fmt.Sprint(int(want.Code())) {
		t.Errorf("grpc-status %q, want %d", tr.Get("Grpc-Status"), want.Code())
	}
	details, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(tr.Get("Grpc-Status-Details-Bin"), "="))
	var got spb.Status
	if err != nil || proto.Unmarshal(details, &got) != nil || !proto.Equal(&got, want.Proto()) {
		t.Errorf("grpc-status-details-bin %q: %v; want %v", tr.Get("Grpc-Status-Details-Bin"), &got, want.Proto())
	}
	if msg := tr.Get("Grpc-Message"); !strings.Contains(msg, "100%25 wrong") {
		t.Errorf("grpc-message %q, want the server's, percent-encoded", msg)
	}
}
