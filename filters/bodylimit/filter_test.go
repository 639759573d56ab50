package bodylimit

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/internal/gwtest"
)

// TestStreamingCap sends bodies through a real gateway to a real upstream:
// a declared length over the cap is refused up front, a chunked body (no
// Content-Length) is cut off with 413 while streaming, and a body within
// the cap reaches the upstream whole.
func TestStreamingCap(t *testing.T) {
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return // the gateway cut the body: it answers the client itself
		}
		fmt.Fprintf(w, "%d", len(b))
	})}
	upURL := serve(t, up)
	cfg := fmt.Sprintf(`
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
upstreams: { echo: { targets: [{ url: %q }] } }
routes:
  - name: upload
    match: { prefix: / }
    filters:
      - body_limit: { max: 1KiB, consumers: { big: 1MiB } }
    upstream: echo
`, upURL)
	_, base, _ := gwtest.Serve(t, cfg)
	url := base + "/"

	post := func(body io.Reader, length int64) (int, string) {
		req, _ := http.NewRequest("POST", url, body)
		req.ContentLength = length
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("POST: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post(strings.NewReader(strings.Repeat("a", 1024)), 1024); code != 200 || body != "1024" {
		t.Errorf("exactly the cap: %d %q, want 200 and the whole body upstream", code, body)
	}
	if code, body := post(strings.NewReader(strings.Repeat("a", 2048)), 2048); code != 413 || !strings.Contains(body, "exceeds 1024 bytes") {
		t.Errorf("declared length over the cap: %d %q, want 413", code, body)
	}
	// -1: unknown length, sent chunked. io.MultiReader hides the size.
	chunked := io.MultiReader(strings.NewReader(strings.Repeat("a", 4096)))
	if code, body := post(chunked, -1); code != 413 || !strings.Contains(body, "too large") {
		t.Errorf("chunked body over the cap: %d %q, want 413 while streaming", code, body)
	}
	if code, body := post(io.MultiReader(strings.NewReader("small")), -1); code != 200 || body != "5" {
		t.Errorf("chunked body within the cap: %d %q", code, body)
	}
}

func serve(t *testing.T, s *http.Server) string {
	t.Helper()
	ln, err := listen()
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })
	return "http://" + ln.Addr().String()
}

func listen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
