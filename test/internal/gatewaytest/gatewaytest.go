// Package gatewaytest runs the real wasmgate binary for the tests that speak
// to it from outside (test/e2e, test/hardening): it builds the binary once,
// starts it on a config rendered into a temp dir, and stops it when the test
// ends, checking that it exits 0 without a panic or a data race.
//
// Listeners and the admin API bind port 0 ({{.listen}} and {{.admin}} render
// as "127.0.0.1:0") and the harness learns the bound addresses from the
// gateway's own log. Picking a "free" port and handing it over would race
// with every other process on the machine, the parallel test binaries first.
package gatewaytest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/wasmgate/wasmgate/internal/testsync"
)

// Race reports that the binary is built with the race detector, which
// multiplies its memory use several times over.
const Race = raceEnabled

// AnyPort is what {{.listen}}, {{.admin}} and any extra listener of a test
// config should bind; name extra listeners and find them with ListenerAddr.
const AnyPort = "127.0.0.1:0"

// Vars fill a config template: {{.listen}} and {{.admin}} always, plus
// whatever a test adds (upstream URLs, file paths).
type Vars map[string]string

// builds are the binaries built for this test binary: [0] as the tests
// run (with the race detector when they do), [1] always without it.
var builds [2]struct {
	once sync.Once
	path string
	err  error
}

// Binary builds ./cmd/wasmgate once per test binary, with the race detector
// when the tests run with it, and returns its path. It skips the test under
// -short.
func Binary(t testing.TB) string { return binary(t, raceEnabled) }

// binary builds ./cmd/wasmgate with or without the race detector, once.
func binary(t testing.TB, race bool) string {
	t.Helper()
	if testing.Short() {
		t.Skip("skipped under -short: builds and runs the wasmgate binary")
	}
	b := &builds[0]
	if race != raceEnabled {
		b = &builds[1]
	}
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "wasmgate-bin-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, "wasmgate")
		args := []string{"build", "-o", b.path}
		if race {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "./cmd/wasmgate")...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("%v\n%s", err, out)
		}
	})
	if b.err != nil {
		t.Fatalf("building wasmgate: %v", b.err)
	}
	return b.path
}

// root is the repository root, found from this file's place in it.
var root = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}()

// Options change how the gateway is started.
type Options struct {
	Env []string // extra KEY=VALUE for the child
	// Symlinked writes the config in a directory the gateway does not watch
	// and gives it a symlink to it, so file edits reach it only through
	// SIGHUP or POST /reload, never through the file watcher.
	Symlinked bool
	Demo      bool   // no config: serve the embedded demo on port 0
	LogLevel  string // "debug" when empty; at most "info", whose lines name the bound ports
	// AdminToken is sent as "Authorization: Bearer" on the harness's own
	// admin calls (Status, AdminJSON, Reload, AdminDo) when the config sets
	// admin.auth. AdminTLS, when the config sets admin.tls, is the client
	// side: it must trust the admin's certificate.
	AdminToken string
	AdminTLS   *tls.Config
	// NoRace runs a binary built without the race detector even when the
	// tests run with it: for tests of the process's memory, which the
	// detector's shadow memory (never returned to the OS) would hide.
	NoRace bool
}

// Gateway is one running wasmgate process.
type Gateway struct {
	t      testing.TB
	Listen string // the first listener's bound host:port
	Admin  string // the admin API's bound host:port
	File   string // the config file the gateway was given
	Vars   Vars   // what every WriteConfig renders with
	Stdout Buffer
	Stderr Buffer
	Client *http.Client // keep-alive client for the tests' requests

	adminClient *http.Client // Client, or one speaking TLS to the admin API
	adminToken  string
	adminScheme string

	target string // where WriteConfig writes (File or a symlink's target)
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // cmd.Wait's result, set before exited closes
}

// Start renders cfg with v, writes it to a temp dir, starts `wasmgate serve`
// on it and waits until the admin API reports ready; cfg must serve the
// admin API (admin: { address: "{{.admin}}" }). When the test ends the
// process gets SIGTERM and must exit 0.
func Start(t testing.TB, cfg string, v Vars, o Options) *Gateway {
	t.Helper()
	bin := binary(t, raceEnabled && !o.NoRace)
	g := &Gateway{t: t, exited: make(chan struct{}), Vars: Vars{}}
	for k, val := range v {
		g.Vars[k] = val
	}
	g.Vars["listen"], g.Vars["admin"] = AnyPort, AnyPort
	level := o.LogLevel
	if level == "" {
		level = "debug"
	}

	args := []string{"serve", "--log-format", "json", "--log-level", level}
	if !o.Demo {
		dir := t.TempDir()
		g.File = filepath.Join(dir, "gateway.yaml")
		g.target = g.File
		if o.Symlinked {
			g.target = filepath.Join(t.TempDir(), "real.yaml")
		}
		g.WriteConfig(cfg, nil)
		if o.Symlinked {
			if err := os.Symlink(g.target, g.File); err != nil {
				t.Fatal(err)
			}
		}
		args = append(args, "-c", g.File)
	}

	ctx, cancel := context.WithCancel(context.Background())
	g.cmd = exec.CommandContext(ctx, bin, args...)
	// A race-enabled binary sleeps a second at exit by default, waiting for
	// late reports; the harness waits for the exit anyway.
	g.cmd.Env = append(append([]string{"GORACE=atexit_sleep_ms=0"}, os.Environ()...), o.Env...)
	if o.Demo {
		g.cmd.Env = append(g.cmd.Env, "WASMGATE_DEMO_LISTEN="+AnyPort, "WASMGATE_DEMO_ADMIN="+AnyPort)
	}
	g.cmd.Stdout = &g.Stdout
	g.cmd.Stderr = &g.Stderr
	if err := g.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		g.err = g.cmd.Wait()
		close(g.exited)
	}()
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	g.Client = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	g.adminClient, g.adminToken, g.adminScheme = g.Client, o.AdminToken, "http"
	adminTr := tr
	if o.AdminTLS != nil {
		adminTr = &http.Transport{TLSClientConfig: o.AdminTLS}
		g.adminClient, g.adminScheme = &http.Client{Transport: adminTr, Timeout: 30 * time.Second}, "https"
	}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		adminTr.CloseIdleConnections()
		defer cancel() // kills the process if it is still running
		if g.Running() {
			_ = g.cmd.Process.Signal(syscall.SIGTERM)
		}
		if code := g.Wait(15 * time.Second); code != 0 {
			t.Errorf("wasmgate exited with status %d after SIGTERM, want 0", code)
		}
		if log := g.Stderr.String(); strings.Contains(log, "panic:") || strings.Contains(log, "DATA RACE") {
			t.Errorf("wasmgate logged a panic or a data race:\n%s", Tail(log, 8000))
		} else if t.Failed() {
			t.Logf("wasmgate stderr (tail):\n%s", Tail(log, 8000))
		}
	})
	g.learnAddrs()
	g.waitReady()
	return g
}

// learnAddrs reads the bound addresses off the startup log: the first
// "listening" line is listeners[0] (they are bound in config order), and
// "admin API listening" is the admin API. "gateway started" ends the startup.
// The deadline is an upper bound only (a start that fails ends it at once,
// by the exit): a config with Go-built Wasm guests compiles each (2-3 MB)
// before its first log line, which under -race on a loaded machine took
// over the 90s this once was (three conformance tests, each logging
// nothing, in a make test at load 38 on 2 cores).
func (g *Gateway) learnAddrs() {
	g.t.Helper()
	err := g.Stderr.WaitFor(5*time.Minute, g.exited, func(log []byte) bool {
		g.Listen, g.Admin = "", ""
		started := false
		for _, e := range entries(log) {
			switch e.Msg {
			case "listening":
				if g.Listen == "" {
					g.Listen = e.Addr
				}
			case "admin API listening":
				g.Admin = e.Addr
			case "gateway started":
				started = true
			}
		}
		return started
	})
	if err != nil {
		g.t.Fatalf("gateway did not start: %v (exit: %v)\nstderr:\n%s", err, g.err, Tail(g.Stderr.String(), 8000))
	}
	if g.Listen == "" || g.Admin == "" {
		g.t.Fatalf("gateway started without logging its listener (%q) or admin (%q) address:\n%s", g.Listen, g.Admin, Tail(g.Stderr.String(), 8000))
	}
}

// logEntry is the part of a JSON log line the harness reads.
type logEntry struct {
	Msg      string `json:"msg"`
	Listener string `json:"listener"`
	Addr     string `json:"addr"`
}

func entries(log []byte) []logEntry {
	var out []logEntry
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e logEntry
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Msg != "" {
			out = append(out, e)
		}
	}
	return out
}

// waitReady polls /readyz until it answers 200 (a config may hold readiness
// until upstreams are healthy), the process exits, or a deadline passes.
func (g *Gateway) waitReady() {
	g.t.Helper()
	c := &http.Client{Timeout: time.Second, Transport: g.adminClient.Transport}
	err := Poll(60*time.Second, func() error {
		if !g.Running() {
			return Stop(fmt.Errorf("wasmgate exited early (%v)", g.err))
		}
		resp, err := c.Get(g.AdminURL("/readyz"))
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
		g.t.Fatalf("gateway not ready: %v\nstderr:\n%s", err, Tail(g.Stderr.String(), 8000))
	}
}

// WriteConfig renders cfg with the gateway's Vars plus extra and replaces
// the config file atomically (write, then rename), so no reader ever sees
// half a file.
func (g *Gateway) WriteConfig(cfg string, extra Vars) {
	g.t.Helper()
	all := Vars{}
	for k, v := range g.Vars {
		all[k] = v
	}
	for k, v := range extra {
		all[k] = v
	}
	tmp := g.target + ".tmp"
	if err := os.WriteFile(tmp, Render(g.t, cfg, all), 0o644); err != nil {
		g.t.Fatal(err)
	}
	if err := os.Rename(tmp, g.target); err != nil {
		g.t.Fatal(err)
	}
}

// Render executes cfg as a text/template with v; a missing key is an error.
func Render(t testing.TB, cfg string, v Vars) []byte {
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

// Pid is the gateway process's id, for reading its /proc entries.
func (g *Gateway) Pid() int { return g.cmd.Process.Pid }

// Running reports whether the process has not exited yet.
func (g *Gateway) Running() bool {
	select {
	case <-g.exited:
		return false
	default:
		return true
	}
}

// Wait waits up to d for the process to exit and returns its exit status;
// -1 if it did not exit in time (it is then killed) or died of a signal.
func (g *Gateway) Wait(d time.Duration) int {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-g.exited:
	case <-timer.C:
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

// Signal sends sig to the process.
func (g *Gateway) Signal(sig os.Signal) {
	g.t.Helper()
	if err := g.cmd.Process.Signal(sig); err != nil {
		g.t.Fatal(err)
	}
}

// URL is http://Listen + path.
func (g *Gateway) URL(path string) string { return "http://" + g.Listen + path }

// Do sends req through the gateway's Client and returns the response with
// its body read; a transport error fails the test.
func (g *Gateway) Do(req *http.Request) (*http.Response, []byte) {
	g.t.Helper()
	resp, err := g.Client.Do(req)
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

// Get is Do of a GET of URL(path).
func (g *Gateway) Get(path string) (*http.Response, []byte) {
	g.t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.URL(path), nil)
	if err != nil {
		g.t.Fatal(err)
	}
	return g.Do(req)
}

// Status is the part of the admin API's GET /status the tests read.
type Status struct {
	Generation uint64            `json:"generation"`
	Routes     int               `json:"routes"`
	Listeners  map[string]string `json:"listeners"` // name → bound address
}

// Status fetches GET /status.
func (g *Gateway) Status() Status {
	g.t.Helper()
	var st Status
	g.AdminJSON("/status", &st)
	return st
}

// AdminJSON GETs path from the admin API and decodes its JSON into v; any
// status but 200 fails the test.
func (g *Gateway) AdminJSON(path string, v any) {
	g.t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.AdminURL(path), nil)
	if err != nil {
		g.t.Fatal(err)
	}
	resp, body := g.AdminDo(req)
	if resp.StatusCode != http.StatusOK {
		g.t.Fatalf("GET %s: %s: %s", path, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		g.t.Fatalf("GET %s: %v: %s", path, err, body)
	}
}

// ListenerAddr is the bound address of the listener called name, as the
// admin API reports it now; the test fails if there is none.
func (g *Gateway) ListenerAddr(name string) string {
	g.t.Helper()
	l := g.Status().Listeners
	addr, ok := l[name]
	if !ok {
		g.t.Fatalf("no listener %q; the gateway has %v", name, l)
	}
	return addr
}

// Reload POSTs /reload and returns the status code and body.
func (g *Gateway) Reload() (int, []byte) {
	g.t.Helper()
	req, err := http.NewRequest(http.MethodPost, g.AdminURL("/reload"), nil)
	if err != nil {
		g.t.Fatal(err)
	}
	resp, body := g.AdminDo(req)
	return resp.StatusCode, body
}

// AdminURL is the admin API's URL for path: https when Options.AdminTLS is set.
func (g *Gateway) AdminURL(path string) string { return g.adminScheme + "://" + g.Admin + path }

// AdminDo is Do for the admin API: with Options.AdminTLS, and with
// Options.AdminToken unless req already has an Authorization header.
func (g *Gateway) AdminDo(req *http.Request) (*http.Response, []byte) {
	g.t.Helper()
	if g.adminToken != "" && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+g.adminToken)
	}
	resp, err := g.adminClient.Do(req)
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

// WaitGeneration polls /status until the generation exceeds after.
func (g *Gateway) WaitGeneration(after uint64) uint64 {
	g.t.Helper()
	var gen uint64
	err := Poll(10*time.Second, func() error {
		if gen = g.Status().Generation; gen <= after {
			return fmt.Errorf("generation still %d", gen)
		}
		return nil
	})
	if err != nil {
		g.t.Fatalf("no reload: %v", err)
	}
	return gen
}

// Stop wraps err so that Poll returns it at once instead of retrying.
func Stop(err error) error { return testsync.Stop(err) }

// Poll calls f until it returns nil, returns Stop(err), or d passes
// (testsync.Poll).
func Poll(d time.Duration, f func() error) error { return testsync.Poll(d, f) }

// Tail is the last n bytes of s.
func Tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// Buffer collects a child's output; safe for the writer goroutine and the
// test reading it, and waitable: WaitFor wakes on every write.
type Buffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // closed and replaced on every write
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// WaitFor calls ok with the output so far, then again after each write,
// until it returns true, done closes (the writer is gone; ok gets one last
// look), or d passes.
func (s *Buffer) WaitFor(d time.Duration, done <-chan struct{}, ok func([]byte) bool) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		s.mu.Lock()
		if ok(s.b.Bytes()) {
			s.mu.Unlock()
			return nil
		}
		if s.changed == nil {
			s.changed = make(chan struct{})
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-done:
			if s.check(ok) {
				return nil
			}
			return errors.New("the process exited")
		case <-timer.C:
			return fmt.Errorf("nothing after %v", d)
		}
	}
}

func (s *Buffer) check(ok func([]byte) bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ok(s.b.Bytes())
}

// Main runs the tests of a package that uses the binary and removes the
// binary afterwards.
func Main(m *testing.M) {
	code := m.Run()
	for i := range builds {
		if p := builds[i].path; p != "" {
			_ = os.RemoveAll(filepath.Dir(p))
		}
	}
	os.Exit(code)
}

// Metric scrapes the admin API's /metrics and returns the value of the
// series called name whose labels include every "key=value" pair given
// (summed over the series that match); ok is false when none does.
func (g *Gateway) Metric(name string, labels ...string) (v float64, ok bool) {
	g.t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.AdminURL("/metrics"), nil)
	if err != nil {
		g.t.Fatal(err)
	}
	resp, body := g.AdminDo(req)
	if resp.StatusCode != http.StatusOK {
		g.t.Fatalf("GET /metrics: %s: %s", resp.Status, Tail(string(body), 300))
	}
	want := make([]string, len(labels))
	for i, kv := range labels {
		k, val, _ := strings.Cut(kv, "=")
		want[i] = k + `="` + val + `"`
	}
next:
	for line := range strings.SplitSeq(string(body), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		series, value, found := strings.Cut(line, " ")
		if !found {
			continue
		}
		n, lbl, _ := strings.Cut(series, "{")
		if n != name {
			continue
		}
		for _, w := range want {
			if !strings.Contains(lbl, w) {
				continue next
			}
		}
		f, err := strconv.ParseFloat(value, 64)
		if err != nil {
			g.t.Fatalf("/metrics: %q: %v", line, err)
		}
		v, ok = v+f, true
	}
	return v, ok
}
