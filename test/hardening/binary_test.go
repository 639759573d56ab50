package hardening

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The real binary, for what only a process shows: signals, and tools that
// speak to a port (h2spec, slowhttptest). Built once, on first use, with the
// race detector when the tests have it.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("skipped under -short: builds and runs the wasmgate binary")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wasmgate-hardening-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "wasmgate")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "github.com/wasmgate/wasmgate/cmd/wasmgate")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("%v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("building wasmgate: %v", buildErr)
	}
	return binPath
}

// process is one running wasmgate.
type process struct {
	t      *testing.T
	cmd    *exec.Cmd
	Listen string
	Admin  string
	File   string
	vars   vars
	stderr syncBuffer
	exited chan struct{}
	err    error
}

// startProcess renders cfg (with {{.listen}} and {{.admin}} set to free
// loopback ports, plus v) to a file and serves it; it waits for /readyz.
func startProcess(t *testing.T, cfg string, v vars) *process {
	t.Helper()
	bin := binary(t)
	p := &process{t: t, Listen: freeAddr(t), Admin: freeAddr(t), exited: make(chan struct{}), vars: vars{}}
	for k, val := range v {
		p.vars[k] = val
	}
	p.vars["listen"], p.vars["admin"] = p.Listen, p.Admin
	p.File = filepath.Join(t.TempDir(), "gateway.yaml")
	p.writeConfig(cfg, nil)
	p.cmd = exec.Command(bin, "serve", "-c", p.File, "--log-format", "json", "--log-level", "info")
	p.cmd.Env = append([]string{"GORACE=atexit_sleep_ms=0"}, os.Environ()...)
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.exited:
			case <-time.After(15 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.exited
			}
		}
		if log := p.stderr.String(); strings.Contains(log, "panic:") || strings.Contains(log, "DATA RACE") {
			t.Errorf("wasmgate logged a panic or a data race:\n%s", tail(log, 8000))
		} else if t.Failed() {
			t.Logf("wasmgate stderr (tail):\n%s", tail(log, 4000))
		}
	})
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := c.Get("http://" + p.Admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		select {
		case <-p.exited:
			t.Fatalf("wasmgate exited early: %v\n%s", p.err, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("wasmgate not ready: %v\n%s", err, p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond) // poll interval; /readyz answering 200 is what is waited for
	}
}

// writeConfig replaces the config file atomically (write, rename).
func (p *process) writeConfig(cfg string, extra vars) {
	p.t.Helper()
	all := vars{}
	for k, v := range p.vars {
		all[k] = v
	}
	for k, v := range extra {
		all[k] = v
	}
	tmp := p.File + ".tmp"
	if err := os.WriteFile(tmp, render(p.t, cfg, all), 0o644); err != nil {
		p.t.Fatal(err)
	}
	if err := os.Rename(tmp, p.File); err != nil {
		p.t.Fatal(err)
	}
}

// exitCode waits up to d for the process to exit: its status, or -1.
func (p *process) exitCode(d time.Duration) int {
	select {
	case <-p.exited:
	case <-time.After(d):
		return -1
	}
	if p.err == nil {
		return 0
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// goTool runs `go tool name args...` from the module (tools are declared in
// go.mod) with a deadline.
func goTool(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", append([]string{"tool", name}, args...)...)
	return cmd.CombinedOutput()
}
