package e2e

import (
	"bytes"
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
