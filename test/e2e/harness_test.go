package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/test/internal/gatewaytest"
)

// head is the start of most configs: one plain listener and the admin API,
// both on port 0 (the harness reads the bound ports off the gateway's log).
const head = `
listeners:
  - address: "{{.listen}}"
admin: { address: "{{.admin}}" }
`

// The process harness is shared with test/hardening.
type (
	gateway      = gatewaytest.Gateway
	vars         = gatewaytest.Vars
	startOptions = gatewaytest.Options
)

// startGateway serves cfg rendered with v from the real binary, ready, and
// stopped (exit 0 required) when the test ends.
func startGateway(t *testing.T, cfg string, v vars, o ...startOptions) *gateway {
	t.Helper()
	var opt startOptions
	if len(o) > 0 {
		opt = o[0]
	}
	return gatewaytest.Start(t, cfg, v, opt)
}

func render(t *testing.T, cfg string, v vars) []byte { return gatewaytest.Render(t, cfg, v) }

// poll retries f every 20ms until it succeeds or d passes (see gatewaytest.Poll).
func poll(d time.Duration, f func() error) error { return gatewaytest.Poll(d, f) }

// childEnv is the environment for wasmgate processes the tests run
// themselves. A race-enabled binary sleeps a second at exit by default,
// waiting for late reports; a test that waits for the exit already gives
// them time.
func childEnv() []string {
	return append([]string{"GORACE=atexit_sleep_ms=0"}, os.Environ()...)
}

func newRequest(t *testing.T, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// rawResponse is a response read off a raw connection, body included.
type rawResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// rawRequest writes req byte for byte (Go's client would clean or
// re-encode some of what these tests send) and reads one response.
func rawRequest(t *testing.T, addr, req string) rawResponse {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading response to %q: %v", firstLine(req), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body of response to %q: %v", firstLine(req), err)
	}
	return rawResponse{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// rawGet is a minimal HTTP/1.1 GET of target (sent as written) with extra
// header lines.
func rawGet(t *testing.T, addr, target string, headers ...string) rawResponse {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", target, addr)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return rawRequest(t, addr, b.String())
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}

// gatewayError is the JSON body of every error the gateway produces.
type gatewayError struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}

// checkError asserts a gateway-made JSON error with the given status.
func checkError(t *testing.T, status int, header http.Header, body []byte, wantStatus int) gatewayError {
	t.Helper()
	if status != wantStatus {
		t.Errorf("status %d, want %d; body %s", status, wantStatus, body)
	}
	if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var e gatewayError
	if err := json.Unmarshal(body, &e); err != nil {
		t.Errorf("error body is not JSON: %v: %q", err, body)
	}
	if e.Status != wantStatus || e.Error == "" {
		t.Errorf("error body %s, want {\"error\": \"...\", \"status\": %d}", body, wantStatus)
	}
	return e
}
