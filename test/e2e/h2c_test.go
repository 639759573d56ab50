package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const h2cConfig = `
listeners:
  - address: "{{.listen}}"
    h2c: true
admin: { address: "{{.admin}}" }
upstreams:
  grpc:
    protocol: h2c
    targets: [{ url: "{{.grpc}}" }]
routes:
  - name: grpc
    match: { prefix: /pkg.Service, methods: [POST] }
    upstream: grpc
  - name: hello
    match: { path: /hello }
    respond: { body: "hi" }
  - name: small
    match: { path: /small }
    max_request_body: 1KiB
    upstream: grpc
`

// h2cClient speaks HTTP/2 without TLS (prior knowledge) only.
func h2cClient() *http.Transport {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return &http.Transport{Protocols: p}
}

func TestH2C(t *testing.T) {
	needBinary(t)
	// A gRPC-like upstream: HTTP/2 without TLS, status in a trailer.
	grpc := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Trailer", "Grpc-Status, Grpc-Message")
		w.WriteHeader(http.StatusOK)
		fmt.Fprintf(w, "proto=%s te=%s body=%s", r.Proto, r.Header.Get("Te"), body)
		w.Header().Set("Grpc-Status", "0")
		w.Header().Set("Grpc-Message", "fine")
	}))
	grpc.Config.Protocols = new(http.Protocols)
	grpc.Config.Protocols.SetUnencryptedHTTP2(true)
	grpc.Start()
	t.Cleanup(grpc.Close)
	g := startGateway(t, h2cConfig, vars{"grpc": grpc.URL})

	tr := h2cClient()
	defer tr.CloseIdleConnections()

	t.Run("h2c listener", func(t *testing.T) {
		resp, body := getWith(t, tr, g.URL("/hello"))
		if resp.ProtoMajor != 2 || string(body) != "hi" {
			t.Errorf("got %s %q, want HTTP/2.0 \"hi\"", resp.Proto, body)
		}
	})

	t.Run("body limit without Content-Length", func(t *testing.T) {
		req := newRequest(t, http.MethodPost, g.URL("/small"), nil)
		req.Body = io.NopCloser(strings.NewReader(strings.Repeat("x", 4096))) // streamed, no length
		c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		checkError(t, resp.StatusCode, resp.Header, body, http.StatusRequestEntityTooLarge)
	})

	t.Run("trailers end to end", func(t *testing.T) {
		req := newRequest(t, http.MethodPost, g.URL("/pkg.Service/Call"), nil)
		req.Body = io.NopCloser(strings.NewReader("\x00\x00\x00\x00\x02hi"))
		req.Header.Set("Content-Type", "application/grpc")
		req.Header.Set("TE", "trailers")
		c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.ProtoMajor != 2 {
			t.Errorf("client protocol %s, want HTTP/2.0", resp.Proto)
		}
		if want := "proto=HTTP/2.0 te=trailers body=\x00\x00\x00\x00\x02hi"; string(body) != want {
			t.Errorf("upstream answered %q, want %q", body, want)
		}
		if got := resp.Trailer.Get("Grpc-Status"); got != "0" {
			t.Errorf("trailer Grpc-Status %q, want 0 (trailers %v)", got, resp.Trailer)
		}
		if got := resp.Trailer.Get("Grpc-Message"); got != "fine" {
			t.Errorf("trailer Grpc-Message %q, want fine", got)
		}
	})
}
