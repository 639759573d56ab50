// Package redistest gives tests a real redis-server: the one at REDIS_ADDR
// (default 127.0.0.1:6379) if it answers, else one started for the test.
// Tests that find neither are skipped, saying why, except under CI (the
// CI environment variable set, as .ci/run's callers and most CI systems
// do): there a missing Redis fails the test, so a skip can never pass for
// a green run.
package redistest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Addr returns the address of a Redis that answers PING.
func Addr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	if Ping(addr) == nil {
		return addr
	}
	return Start(t).Addr
}

// Prefix is a key prefix of the test's own, so tests sharing one Redis
// (in parallel, or run again) never see each other's keys.
func Prefix(t testing.TB) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "wgtest:" + strings.NewReplacer("/", ":", " ", "_").Replace(t.Name()) + ":" + hex.EncodeToString(b[:]) + ":"
}

// Server is a redis-server this test owns: it may kill and restart it.
type Server struct {
	Addr   string
	t      testing.TB
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
}

// Start runs a private redis-server on a free loopback port, without
// persistence, stopped when the test ends.
//
// The port is picked by binding :0 and closing, so another process may take
// it first; redis-server then exits, and Start tries another port. A server
// counts as up only when the one answering on the port reports this
// process's pid, so a test never kills or counts on somebody else's Redis.
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		const why = "no Redis: nothing answers at REDIS_ADDR (default 127.0.0.1:6379) and redis-server is not installed (apt-get install redis-server)"
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
		s := &Server{Addr: addr, t: t}
		if err := s.start(); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		t.Cleanup(s.Kill)
		return s
	}
	t.Fatalf("no private redis-server would start:\n%s", strings.Join(errs, "\n"))
	return nil
}

// Restart starts the server again on the same port (after Kill).
func (s *Server) Restart() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatal(err)
	}
}

// start runs redis-server on s.Addr and waits until it answers as itself.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, port, _ := net.SplitHostPort(s.Addr)
	cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "no", "--loglevel", "warning")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting redis-server: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	pid := strconv.Itoa(cmd.Process.Pid)
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond) // asking rate; the answer is what is waited for
	defer tick.Stop()
	for {
		if serverPID(s.Addr) == pid {
			s.cmd, s.exited = cmd, exited
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("redis-server on %s exited at start: %s", s.Addr, strings.TrimSpace(out.String()))
		case <-deadline.C:
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("redis-server on %s did not answer within 5s", s.Addr)
		case <-tick.C:
		}
	}
}

// serverPID asks the Redis at addr for its process id ("" if none answers).
func serverPID(addr string) string {
	c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
	if err != nil {
		return ""
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("INFO server\r\n")); err != nil {
		return ""
	}
	r := bufio.NewReader(c)
	head, err := r.ReadString('\n') // $<length>
	if err != nil || !strings.HasPrefix(head, "$") {
		return ""
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return ""
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			return v
		}
	}
}

// Kill stops the server abruptly, as a crash would.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Ping speaks just enough RESP to ask one PING.
func Ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("redis at %s answered %q", addr, strings.TrimSpace(line))
	}
	return nil
}
