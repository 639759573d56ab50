package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"
)

const shutdownConfig = head + `
server: { drain_timeout: 20s }
upstreams:
  slow: { targets: [{ url: "{{.slow}}" }] }
routes:
  - name: slow
    upstream: slow
`

func TestGracefulStop(t *testing.T) {
	needBinary(t)
	arrived, release := make(chan struct{}), make(chan struct{})
	payload := bytes.Repeat([]byte("drained "), 32<<10)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		_, _ = w.Write(payload)
	}))
	t.Cleanup(slow.Close)
	g := startGateway(t, shutdownConfig, vars{"slow": slow.URL})

	type result struct {
		status int
		body   []byte
		err    error
	}
	done := make(chan result, 1)
	go func() {
		c := &http.Client{Timeout: 30 * time.Second}
		resp, err := c.Get(g.URL("/slow"))
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		done <- result{resp.StatusCode, body, err}
	}()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow request never reached the upstream")
	}

	g.Signal(syscall.SIGTERM)
	admin := &http.Client{Timeout: 2 * time.Second}
	err := poll(10*time.Second, func() error {
		resp, err := admin.Get("http://" + g.Admin + "/readyz")
		if err != nil {
			return nil // the admin API is closed: not ready either
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			return fmt.Errorf("/readyz %d while draining", resp.StatusCode)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	err = poll(10*time.Second, func() error {
		conn, err := net.DialTimeout("tcp", g.Listen, time.Second)
		if err != nil {
			return nil
		}
		conn.Close()
		return fmt.Errorf("the listener still accepts connections while draining")
	})
	if err != nil {
		t.Error(err)
	}
	if !g.Running() {
		t.Fatal("wasmgate exited with a request in flight")
	}

	close(release)
	select {
	case r := <-done:
		if r.err != nil || r.status != http.StatusOK || !bytes.Equal(r.body, payload) {
			t.Errorf("in-flight request: status %d, %d of %d bytes, err %v", r.status, len(r.body), len(payload), r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the in-flight request did not finish")
	}
	if code := g.Wait(5 * time.Second); code != 0 {
		t.Errorf("exit status %d after draining, want 0", code)
	}
}

// A SIGTERM as soon as the gateway reports ready drains it and exits 0:
// signals are taken before the gateway starts, not after (the window was
// wide enough under -race for a fast test's cleanup to kill the process).
func TestSIGTERMRightAfterReady(t *testing.T) {
	needBinary(t)
	for i := range 3 {
		g := startGateway(t, head+"routes: [{ name: r, respond: { body: ok } }]\n", nil)
		g.Signal(syscall.SIGTERM)
		if code := g.Wait(10 * time.Second); code != 0 {
			t.Fatalf("start %d: exit status %d after a SIGTERM right after ready, want 0 (drained)", i+1, code)
		}
	}
}

// stopLog is what the stop logs: each step, and how long the stop took.
type stopLog struct {
	Msg        string `json:"msg"`
	Signal     string `json:"signal"`
	Took       string `json:"took"`
	DrainDelay string `json:"drain_delay"`
}

func stopLines(t *testing.T, g *gateway) map[string]stopLog {
	t.Helper()
	out := map[string]stopLog{}
	for _, line := range bytes.Split([]byte(g.Stderr.String()), []byte("\n")) {
		var e stopLog
		if json.Unmarshal(line, &e) == nil && e.Msg != "" {
			out[e.Msg] = e
		}
	}
	return out
}

const (
	msgDelay   = "stopping: readiness is false; listeners serve on for server.drain_delay"
	msgDrain   = "draining: listeners closed, waiting for in-flight requests"
	msgStopped = "stopped"
)

// An idle gateway stops at once on SIGTERM, and says that it drains and
// how long the stop took.
func TestIdleStopIsQuickAndLogged(t *testing.T) {
	needBinary(t)
	g := startGateway(t, head+"routes: [{ name: r, respond: { body: ok } }]\n", nil)
	sent := time.Now()
	g.Signal(syscall.SIGTERM)
	// An upper bound only: the stop itself takes milliseconds (the log's
	// took says how many); seconds leave room for a loaded machine.
	if code := g.Wait(5 * time.Second); code != 0 {
		t.Fatalf("exit status %d, want 0", code)
	}
	elapsed := time.Since(sent)
	lines := stopLines(t, g)
	if e, ok := lines[msgDrain]; !ok || e.Signal != "terminated" {
		t.Errorf("no %q line naming the signal: %+v", msgDrain, e)
	}
	if _, ok := lines[msgDelay]; ok {
		t.Errorf("%q logged without a drain_delay", msgDelay)
	}
	e, ok := lines[msgStopped]
	took, err := time.ParseDuration(e.Took)
	if !ok || err != nil {
		t.Fatalf("no %q line with a took duration: %+v (%v)\n%s", msgStopped, e, err, g.Stderr.String())
	}
	if took > elapsed {
		t.Errorf("logged took %v, longer than the %v from SIGTERM to exit", took, elapsed)
	}
	t.Logf("idle stop: %v logged, %v from SIGTERM to exit", took, elapsed)
}

// With server.drain_delay, SIGTERM turns /readyz to 503 at once while the
// listeners keep serving, new connections included; the drain follows the
// delay, or a second signal.
func TestDrainDelay(t *testing.T) {
	needBinary(t)
	cfg := head + `
server: { drain_delay: %s, drain_timeout: 10s }
routes: [{ name: r, respond: { body: still-here } }]
`
	admin := &http.Client{Timeout: 2 * time.Second}
	readyz := func(g *gateway) int {
		resp, err := admin.Get("http://" + g.Admin + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	// A long delay, ended by a second signal.
	g := startGateway(t, fmt.Sprintf(cfg, "2m"), nil)
	if code := readyz(g); code != http.StatusOK {
		t.Fatalf("/readyz %d before the stop", code)
	}
	g.Signal(syscall.SIGTERM)
	if err := poll(10*time.Second, func() error {
		if code := readyz(g); code != http.StatusServiceUnavailable {
			return fmt.Errorf("/readyz %d after SIGTERM, want 503", code)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		// A new connection each time: the listener still accepts.
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get(g.URL("/"))
		if err != nil {
			t.Fatalf("request %d during drain_delay: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "still-here" {
			t.Fatalf("request %d during drain_delay: %d %q", i, resp.StatusCode, body)
		}
	}
	if e, ok := stopLines(t, g)[msgDelay]; !ok || e.DrainDelay != "2m0s" {
		t.Errorf("no %q line with drain_delay 2m0s: %+v", msgDelay, e)
	}
	if !g.Running() {
		t.Fatal("exited during drain_delay")
	}
	g.Signal(syscall.SIGTERM)
	if code := g.Wait(10 * time.Second); code != 0 {
		t.Fatalf("exit status %d after a second SIGTERM, want 0", code)
	}
	if _, ok := stopLines(t, g)["second signal: drain_delay cut short"]; !ok {
		t.Errorf("the second signal was not logged:\n%s", g.Stderr.String())
	}

	// A short delay runs out by itself, then the drain: the stop takes at
	// least the delay.
	g = startGateway(t, fmt.Sprintf(cfg, "1s"), nil)
	g.Signal(syscall.SIGTERM)
	if code := g.Wait(15 * time.Second); code != 0 {
		t.Fatalf("exit status %d, want 0", code)
	}
	lines := stopLines(t, g)
	if _, ok := lines[msgDrain]; !ok {
		t.Errorf("no %q line", msgDrain)
	}
	took, err := time.ParseDuration(lines[msgStopped].Took)
	if err != nil || took < time.Second {
		t.Errorf("the stop took %q, want at least the 1s drain_delay (%v)", lines[msgStopped].Took, err)
	}
}
