package gatewaytest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// StartRedis runs a private redis-server on a loopback port for the test,
// without persistence, killed when the test ends, and returns its address.
// (filters/internal/redistest does the same for the filters' own tests;
// an internal package there cannot be imported from test/.)
//
// Without redis-server the test is skipped, saying why, except under CI
// (the CI environment variable set): there it fails, so that a skip never
// passes for a green run.
//
// The port is found by binding :0 and closing it, so another process may
// take it first: redis-server then exits and another port is tried. The
// server counts as up only when the one answering reports this child's
// pid, so a test never counts on somebody else's Redis.
func StartRedis(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		const why = "redis-server is not installed (apt-get install redis-server)"
		if os.Getenv("CI") != "" {
			t.Fatal(why + "; under CI a Redis test fails rather than skips")
		}
		t.Skip(why)
	}
	var errs []string
	for range 5 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		if err := startRedis(t, addr); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		return addr
	}
	t.Fatalf("no private redis-server would start:\n%s", strings.Join(errs, "\n"))
	return ""
}

func startRedis(t testing.TB, addr string) error {
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "no", "--loglevel", "warning")
	var out Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting redis-server: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	pid := strconv.Itoa(cmd.Process.Pid)
	err := Poll(10*time.Second, func() error {
		select {
		case <-exited:
			return Stop(fmt.Errorf("redis-server on %s exited at start: %s", addr, strings.TrimSpace(out.String())))
		default:
		}
		if got := redisPID(addr); got != pid {
			return fmt.Errorf("redis-server on %s does not answer as pid %s (got %q)", addr, pid, got)
		}
		return nil
	})
	if err != nil {
		_ = cmd.Process.Kill()
		<-exited
		return err
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	return nil
}

// redisPID asks the Redis at addr for its process id ("" if none answers).
func redisPID(addr string) string {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return ""
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("INFO server\r\n")); err != nil {
		return ""
	}
	r := bufio.NewReader(c)
	head, err := r.ReadString('\n') // $<length>
	if err != nil || !strings.HasPrefix(head, "$") {
		return ""
	}
	n, err := strconv.Atoi(strings.TrimSpace(head[1:]))
	if err != nil || n <= 0 {
		return ""
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return ""
	}
	for line := range bytes.SplitSeq(body, []byte("\n")) {
		if v, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte("process_id:")); ok {
			return string(v)
		}
	}
	return ""
}
