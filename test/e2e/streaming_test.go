package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const streamingConfig = head + `
upstreams:
  sse:  { targets: [{ url: "{{.sse}}" }] }
  echo: { targets: [{ url: "{{.echo}}" }] }
routes:
  - name: events
    match: { path: /events }
    upstream: sse
  - name: small
    match: { path: /small }
    max_request_body: 1KiB
    upstream: echo
  - name: upload
    match: { path: /upload }
    upstream: echo
`

func TestStreaming(t *testing.T) {
	needBinary(t)
	got1 := make(chan struct{})
	sse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		fmt.Fprint(w, "id: 1\ndata: one\n\n")
		if rc.Flush() != nil {
			return
		}
		// Event 2 only exists once the client has event 1: a gateway that
		// buffered the response would deliver neither in time.
		select {
		case <-got1:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, "id: 2\ndata: two\n\n")
		_ = rc.Flush()
	}))
	t.Cleanup(sse.Close)
	echo := newEcho(t, "echo")
	g := startGateway(t, streamingConfig, vars{"sse": sse.URL, "echo": echo.URL})

	t.Run("sse unbuffered", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req := newRequest(t, http.MethodGet, g.URL("/events"), nil).WithContext(ctx)
		resp, err := g.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Errorf("Content-Type %q", ct)
		}
		lines := bufio.NewScanner(resp.Body)
		readUntil := func(want string) {
			t.Helper()
			for lines.Scan() {
				if lines.Text() == want {
					return
				}
			}
			t.Fatalf("stream ended before %q: %v", want, lines.Err())
		}
		readUntil("data: one")
		close(got1)
		readUntil("data: two")
	})

	t.Run("8MiB body streamed", func(t *testing.T) {
		body := bytes.Repeat([]byte("0123456789abcdef-wasmgate-e2e\n"), (8<<20)/30+1)[:8<<20]
		sum := sha256.Sum256(body)
		for _, chunked := range []bool{false, true} {
			var r io.Reader = bytes.NewReader(body)
			if chunked {
				r = io.MultiReader(r) // hides the length: sent chunked
			}
			resp, got := g.Do(newRequest(t, http.MethodPost, g.URL("/upload"), r))
			s := decodeSeen(t, resp.StatusCode, got)
			if s.BodyLen != int64(len(body)) || s.BodySHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("chunked=%v: upstream got %d bytes sha256 %s, want %d bytes %x",
					chunked, s.BodyLen, s.BodySHA256, len(body), sum)
			}
		}
	})

	t.Run("over max_request_body", func(t *testing.T) {
		before := echo.hits.Load()
		big := strings.Repeat("x", 2048)
		resp, body := g.Do(newRequest(t, http.MethodPost, g.URL("/small"), strings.NewReader(big)))
		checkError(t, resp.StatusCode, resp.Header, body, http.StatusRequestEntityTooLarge)
		if echo.hits.Load() != before {
			t.Error("a body declared too large reached the upstream")
		}
		// Without Content-Length the limit is found while streaming.
		resp, body = g.Do(newRequest(t, http.MethodPost, g.URL("/small"), io.MultiReader(strings.NewReader(big))))
		checkError(t, resp.StatusCode, resp.Header, body, http.StatusRequestEntityTooLarge)
		// At the limit it passes.
		resp, body = g.Do(newRequest(t, http.MethodPost, g.URL("/small"), strings.NewReader(big[:1024])))
		if s := decodeSeen(t, resp.StatusCode, body); s.BodyLen != 1024 {
			t.Errorf("upstream got %d bytes, want 1024", s.BodyLen)
		}
	})
}
