package hardening

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/server"
)

const fuzzConfig = `
listeners: [{ name: main, address: "127.0.0.1:0", timeouts: { read_header: 500ms, read: 500ms, idle: 500ms } }]
admin: { address: "off" }
server: { max_request_body: 4KiB }
upstreams:
  rec: { targets: [{ url: "{{.rec}}" }], timeouts: { response_header: 1s } }
routes:
  - name: all
    upstream: rec
`

// FuzzRawHTTP1 sends arbitrary bytes to the gateway as a client connection
// (half-closed after them) with a recording upstream behind it. However the
// bytes parse, the upstream never receives more requests than the client got
// responses for (nothing is smuggled through as an extra request), and every
// request it receives re-parses strictly, with one framing and no folded
// lines or bare CR/LF.
func FuzzRawHTTP1(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
		"POST / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /s HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
		"GET /%2e%2e/admin HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET http://b/x HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nConnection: x-drop\r\nX-Drop: 1\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	// One gateway per fuzzing process, shared by its inputs. The fuzzer
	// speaks to a second listener of the real server layer whose handler
	// counts the requests it accepted before passing them to the gateway:
	// a client that half-closes may lose its response (net/http cancels the
	// request), so the count of responses cannot be the bound.
	fuzzRec := newRecorder(f)
	fuzzGW := startInProcess(f, fuzzConfig, vars{"rec": fuzzRec.URL()})
	var accepted atomic.Int64
	srv := server.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		accepted.Add(1)
		fuzzGW.g.ServeHTTP(w, r)
	}), nil)
	timeouts := config.ServerTimeouts{ReadHeader: config.Duration(500 * time.Millisecond), Read: config.Duration(500 * time.Millisecond)}
	if err := srv.Apply([]config.Listener{{Name: "fuzz", Address: "127.0.0.1:0", Timeouts: timeouts}}); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	addr := srv.Addrs()["fuzz"].String()
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRec.take()
		before := accepted.Load()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = c.Write(data)
		_ = c.(*net.TCPConn).CloseWrite()
		br := bufio.NewReader(c)
		responses := 0
		for {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				break
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 200 {
				responses++
			}
		}
		// The gateway closed the connection: every exchange it had with the
		// upstream for it is over. Wait for the recorder to file them.
		fuzzRec.settle(t)
		got := fuzzRec.take()
		complete := 0
		for _, r := range got {
			if r.Err != "" {
				t.Fatalf("the upstream received a malformed request (%s) for input %q:\n%s", r.Err, data, r.Head)
			}
			if r.Complete {
				complete++
			}
		}
		if n := accepted.Load() - before; int64(complete) > n {
			t.Fatalf("input %q: the upstream received %d requests, the gateway accepted %d", data, complete, n)
		}
		if responses > 0 && int64(responses) > accepted.Load()-before+1 {
			t.Fatalf("input %q: %d responses to %d accepted requests", data, responses, accepted.Load()-before)
		}
	})
}
