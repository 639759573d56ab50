package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"
)

// head is the start of most configs: one plain listener and the admin API,
// both on ports picked for the test.
const head = `
listeners:
  - address: "{{.listen}}"
admin: { address: "{{.admin}}" }
`

// vars fill a config template: {{.listen}} and {{.admin}} always, plus
// whatever a test adds (upstream URLs, file paths).
type vars map[string]string

// gateway is one running wasmgate process.
type gateway struct {
	t      *testing.T
	Listen string // the first listener, host:port
	Admin  string // the admin API, host:port
	File   string // the config file the gateway was given
	target string // where writeConfig writes (File or a symlink's target)
	vars   vars
	cmd    *exec.Cmd
	stdout syncBuffer
	stderr syncBuffer
	exited chan struct{}
	err    error // cmd.Wait's result, set before exited closes
	client *http.Client
}

// startOptions change how the gateway is started.
type startOptions struct {
	env []string // extra KEY=VALUE for the child
	// symlinked writes the config in a directory the gateway does not watch
	// and gives it a symlink to it, so file edits reach it only through
	// SIGHUP or POST /reload, never through the file watcher.
	symlinked bool
	noConfig  bool // serve the embedded demo on Listen and Admin
	noReady   bool // do not wait for /readyz
}

// startGateway renders cfg with v, writes it to a temp dir, starts
// `wasmgate serve` on it and waits until the admin API reports ready. The
// process is stopped with SIGTERM when the test ends and must exit 0.
func startGateway(t *testing.T, cfg string, v vars, o ...startOptions) *gateway {
	t.Helper()
	var opt startOptions
	if len(o) > 0 {
		opt = o[0]
	}
	g := &gateway{t: t, Listen: freeAddr(t), Admin: freeAddr(t), exited: make(chan struct{}), vars: vars{}}
	for k, val := range v {
		g.vars[k] = val
	}
	g.vars["listen"], g.vars["admin"] = g.Listen, g.Admin

	args := []string{"serve", "--log-format", "json", "--log-level", "debug"}
	if !opt.noConfig {
		dir := t.TempDir()
		g.File = filepath.Join(dir, "gateway.yaml")
		g.target = g.File
		if opt.symlinked {
			g.target = filepath.Join(t.TempDir(), "real.yaml")
			g.writeConfig(cfg, nil)
			if err := os.Symlink(g.target, g.File); err != nil {
				t.Fatal(err)
			}
		} else {
			g.writeConfig(cfg, nil)
		}
		args = append(args, "-c", g.File)
	}

	ctx, cancel := context.WithCancel(context.Background())
	g.cmd = exec.CommandContext(ctx, binary, args...)
	g.cmd.Env = append(childEnv(), opt.env...)
	if opt.noConfig {
		g.cmd.Env = append(g.cmd.Env, "WASMGATE_DEMO_LISTEN="+g.Listen, "WASMGATE_DEMO_ADMIN="+g.Admin)
	}
	g.cmd.Stdout = &g.stdout
	g.cmd.Stderr = &g.stderr
	if err := g.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		g.err = g.cmd.Wait()
		close(g.exited)
	}()
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	g.client = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		defer cancel() // kills the process if it is still running
		if g.running() {
			_ = g.cmd.Process.Signal(syscall.SIGTERM)
		}
		code := g.wait(10 * time.Second)
		if code != 0 {
			t.Errorf("wasmgate exited with status %d after SIGTERM, want 0", code)
		}
		if log := g.stderr.String(); strings.Contains(log, "panic") || strings.Contains(log, "DATA RACE") {
			t.Error("wasmgate logged a panic or a data race")
		}
		if t.Failed() {
			t.Logf("wasmgate stderr:\n%s", g.stderr.String())
		}
	})
	if !opt.noReady {
		g.waitReady()
	}
	return g
}

// childEnv is the environment for wasmgate processes. A race-enabled binary
// sleeps a second at exit by default, waiting for late reports; a test that
// waits for the exit already gives them time.
func childEnv() []string {
	return append([]string{"GORACE=atexit_sleep_ms=0"}, os.Environ()...)
}

// writeConfig renders cfg with the gateway's vars plus extra and replaces
// the config file atomically (write, then rename), so no reader ever sees
// half a file.
func (g *gateway) writeConfig(cfg string, extra vars) {
	g.t.Helper()
	all := vars{}
	for k, v := range g.vars {
		all[k] = v
	}
	for k, v := range extra {
		all[k] = v
	}
	data := render(g.t, cfg, all)
	tmp := g.target + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		g.t.Fatal(err)
	}
	if err := os.Rename(tmp, g.target); err != nil {
		g.t.Fatal(err)
	}
}

func render(t *testing.T, cfg string, v vars) []byte {
	t.Helper()
	tmpl, err := template.New("config").Option("missingkey=error").Parse(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, map[string]string(v)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// waitReady polls /readyz until it answers 200, the process exits, or a
// deadline passes. The deadline is generous: the demo compiles a Go-built
// Wasm plugin at start, which takes seconds on a cold compilation cache
// under -race on a loaded CI machine.
func (g *gateway) waitReady() {
	g.t.Helper()
	c := &http.Client{Timeout: time.Second}
	err := poll(90*time.Second, func() error {
		if !g.running() {
			return errStop{fmt.Errorf("wasmgate exited early (%v)", g.err)}
		}
		resp, err := c.Get("http://" + g.Admin + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz: %s", resp.Status)
		}
		return nil
	})
	if err != nil {
		g.t.Fatalf("gateway not ready: %v\nstderr:\n%s", err, g.stderr.String())
	}
}

func (g *gateway) running() bool {
	select {
	case <-g.exited:
		return false
	default:
		return true
	}
}

// wait waits for the process to exit and returns its exit status; -1 if it
// did not exit in time (it is then killed).
func (g *gateway) wait(d time.Duration) int {
	select {
	case <-g.exited:
	case <-time.After(d):
		_ = g.cmd.Process.Kill()
		<-g.exited
		return -1
	}
	var ee *exec.ExitError
	if errors.As(g.err, &ee) {
		return ee.ExitCode()
	}
	if g.err != nil {
		return -1
	}
	return 0
}

func (g *gateway) signal(sig os.Signal) {
	g.t.Helper()
	if err := g.cmd.Process.Signal(sig); err != nil {
		g.t.Fatal(err)
	}
}

func (g *gateway) url(path string) string { return "http://" + g.Listen + path }

// do sends req through the gateway's client and returns the response with
// its body read.
func (g *gateway) do(req *http.Request) (*http.Response, []byte) {
	g.t.Helper()
	resp, err := g.client.Do(req)
	if err != nil {
		g.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		g.t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return resp, body
}

func (g *gateway) get(path string) (*http.Response, []byte) {
	g.t.Helper()
	return g.do(newRequest(g.t, http.MethodGet, g.url(path), nil))
}

func newRequest(t *testing.T, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// adminStatus is the part of GET /status the tests read.
type adminStatus struct {
	Generation uint64            `json:"generation"`
	Routes     int               `json:"routes"`
	Listeners  map[string]string `json:"listeners"`
}

func (g *gateway) status() adminStatus {
	g.t.Helper()
	resp, body := g.do(newRequest(g.t, http.MethodGet, "http://"+g.Admin+"/status", nil))
	if resp.StatusCode != http.StatusOK {
		g.t.Fatalf("GET /status: %s: %s", resp.Status, body)
	}
	var st adminStatus
	if err := json.Unmarshal(body, &st); err != nil {
		g.t.Fatalf("GET /status: %v: %s", err, body)
	}
	return st
}

// reload POSTs /reload and returns the status code and body.
func (g *gateway) reload() (int, []byte) {
	g.t.Helper()
	resp, body := g.do(newRequest(g.t, http.MethodPost, "http://"+g.Admin+"/reload", nil))
	return resp.StatusCode, body
}

// waitGeneration polls /status until the generation exceeds after.
func (g *gateway) waitGeneration(after uint64) uint64 {
	g.t.Helper()
	var gen uint64
	err := poll(10*time.Second, func() error {
		if gen = g.status().Generation; gen <= after {
			return fmt.Errorf("generation still %d", gen)
		}
		return nil
	})
	if err != nil {
		g.t.Fatalf("no reload: %v", err)
	}
	return gen
}

// errStop ends a poll early.
type errStop struct{ error }

// poll calls f every 20ms until it returns nil, returns errStop, or d passes.
func poll(d time.Duration, f func() error) error {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := f()
		if err == nil {
			return nil
		}
		var stop errStop
		if errors.As(err, &stop) {
			return stop.error
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %w", d, err)
		}
		<-tick.C
	}
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
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

// syncBuffer is a bytes.Buffer safe for the child's writer goroutine and
// the test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
