// Package redistopo starts real Redis deployments for tests: a Redis
// Cluster of 3 masters and 3 replicas, a master with 2 replicas watched by
// 3 Sentinels, and a server speaking TLS. Every process runs from the
// test's temp dir on loopback ports and is killed when the test ends.
//
// It sits in the module's root internal/ so that the filters' tests (the
// benchmarks of a decision against a cluster) and the end-to-end tests
// (test/e2e, through the real binary) start the same topologies.
//
// Without redis-server and redis-cli the test is skipped, saying why,
// except under CI (the CI environment variable set, as .ci/run does):
// there it fails, so that a skip never passes for a green run.
package redistopo

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wasmgate/wasmgate/internal/testsync"
)

// Need skips (or, under CI, fails) the test when a Redis tool is missing;
// under -short it skips: a topology is several processes and seconds.
func Need(t testing.TB, tools ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipped under -short: starts a multi-process Redis deployment")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			why := tool + " is not installed (apt-get install redis-server redis-tools)"
			if os.Getenv("CI") != "" {
				t.Fatal(why + "; under CI a Redis test fails rather than skips")
			}
			t.Skip(why)
		}
	}
}

// Node is one redis-server process (a server or a Sentinel).
type Node struct {
	Addr string
	Port int
	t    testing.TB
	tls  *tls.Config // how to reach it, when it speaks only TLS

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	out    *syncBuffer
}

// Client is a plain client for this one node (for the test's own checks).
func (n *Node) Client() *redis.Client {
	c := n.client()
	n.t.Cleanup(func() { _ = c.Close() })
	return c
}

func (n *Node) client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: n.Addr, TLSConfig: n.tls, DialTimeout: 2 * time.Second,
		ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second, MaxRetries: -1, DisableIdentity: true})
}

// Kill stops the process with SIGKILL, as a crash would, and waits for it.
func (n *Node) Kill() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Kill()
	<-n.exited
	n.cmd = nil
}

// Alive reports whether the process still runs.
func (n *Node) Alive() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd != nil
}

// Log is what the process printed.
func (n *Node) Log() string { return n.out.String() }

// freePort finds a port that was free a moment ago; a process that takes
// it meanwhile makes the start fail, and the caller tries another.
func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// start runs redis-server with args (a config file first, when given) on a
// fresh port, and waits until the process answers as itself (its pid).
// port(p) returns the arguments that bind port p.
func start(t testing.TB, dir string, tlsc *tls.Config, args func(port int) []string) *Node {
	t.Helper()
	var errs []string
	for range 5 {
		port := freePort(t)
		n := &Node{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Port: port, t: t, tls: tlsc, out: &syncBuffer{}}
		cmd := exec.Command("redis-server", args(port)...)
		cmd.Dir = dir
		cmd.Stdout, cmd.Stderr = n.out, n.out
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting redis-server: %v", err)
		}
		n.cmd, n.exited = cmd, make(chan struct{})
		go func(exited chan struct{}) { _ = cmd.Wait(); close(exited) }(n.exited)
		if err := n.waitUp(cmd.Process.Pid); err != nil {
			n.Kill()
			errs = append(errs, err.Error())
			continue
		}
		t.Cleanup(n.Kill)
		return n
	}
	t.Fatalf("no redis-server would start:\n%s", strings.Join(errs, "\n"))
	return nil
}

func (n *Node) waitUp(pid int) error {
	c := redis.NewClient(&redis.Options{Addr: n.Addr, TLSConfig: n.tls, DialTimeout: time.Second, ReadTimeout: 2 * time.Second, MaxRetries: -1, DisableIdentity: true})
	defer c.Close()
	want := "process_id:" + strconv.Itoa(pid)
	return Poll(20*time.Second, func() error {
		select {
		case <-n.exited:
			return Stop(fmt.Errorf("redis-server on %s exited at start: %s", n.Addr, strings.TrimSpace(n.out.String())))
		default:
		}
		info, err := c.Info(context.Background(), "server").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, want) {
			return fmt.Errorf("%s answers as another process", n.Addr)
		}
		return nil
	})
}

// baseArgs are every server's: loopback, no persistence, quiet.
func baseArgs(dir string, port int) []string {
	return []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--protected-mode", "no", "--loglevel", "warning"}
}

// Cluster is a Redis Cluster of 3 masters, each with one replica.
type Cluster struct {
	Nodes []*Node
	t     testing.TB
}

// StartCluster starts six `redis-server --cluster-enabled yes` processes,
// joins them with `redis-cli --cluster create --cluster-replicas 1`, and
// waits until every node reports cluster_state:ok and sees the other five.
// A node that stops answering is failed over after 1s (cluster-node-timeout).
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	Need(t, "redis-server", "redis-cli")
	c := &Cluster{t: t}
	for i := range 6 {
		dir := t.TempDir()
		c.Nodes = append(c.Nodes, start(t, dir, nil, func(port int) []string {
			// The bus port is chosen like the client port: port+10000, the
			// default, can be past 65535 for an ephemeral port.
			return append(baseArgs(dir, port), "--cluster-enabled", "yes",
				"--cluster-port", strconv.Itoa(freePort(t)),
				"--cluster-config-file", filepath.Join(dir, fmt.Sprintf("nodes-%d.conf", i)),
				"--cluster-node-timeout", "1000",
				"--cluster-replica-validity-factor", "0",
				"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0")
		}))
	}
	args := []string{"--cluster", "create"}
	args = append(args, c.Addrs()...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.WaitHealthy(60 * time.Second)
	return c
}

// Addrs are the six nodes' addresses (seed nodes for a client).
func (c *Cluster) Addrs() []string {
	var a []string
	for _, n := range c.Nodes {
		a = append(a, n.Addr)
	}
	return a
}

// WaitHealthy waits until every live node says cluster_state:ok, every
// slot has a live master and every master has a replica in sync.
func (c *Cluster) WaitHealthy(d time.Duration) {
	c.t.Helper()
	err := Poll(d, func() error {
		masters := 0
		for _, n := range c.Nodes {
			if !n.Alive() {
				continue
			}
			ok, err := nodeHealthy(n)
			if err != nil {
				return err
			}
			if ok {
				masters++
			}
		}
		if masters != 3 {
			return fmt.Errorf("%d masters with an online replica, want 3", masters)
		}
		return nil
	})
	if err != nil {
		c.t.Fatalf("the cluster did not become healthy: %v", err)
	}
}

// nodeHealthy checks one node's view of the cluster, and whether it is a
// master with a replica in sync.
func nodeHealthy(n *Node) (master bool, err error) {
	cl := n.client()
	defer cl.Close()
	info, err := cl.ClusterInfo(context.Background()).Result()
	if err != nil {
		return false, err
	}
	if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_ok:16384") {
		return false, fmt.Errorf("%s: cluster not ok yet:\n%s", n.Addr, info)
	}
	repl, err := cl.Info(context.Background(), "replication").Result()
	if err != nil {
		return false, err
	}
	return strings.Contains(repl, "role:master") && strings.Contains(repl, "connected_slaves:1") && strings.Contains(repl, "state=online"), nil
}

// MasterOf returns the node that currently serves key's slot as master,
// as a live node's slot map says.
func (c *Cluster) MasterOf(key string) *Node {
	c.t.Helper()
	for _, n := range c.Nodes {
		if !n.Alive() {
			continue
		}
		cl := n.client()
		defer cl.Close()
		slot, err := cl.ClusterKeySlot(context.Background(), key).Result()
		if err != nil {
			c.t.Fatal(err)
		}
		ranges, err := cl.ClusterSlots(context.Background()).Result()
		if err != nil {
			c.t.Fatal(err)
		}
		for _, r := range ranges {
			if int64(r.Start) <= slot && slot <= int64(r.End) {
				return c.node(r.Nodes[0].Addr)
			}
		}
		c.t.Fatalf("no master for slot %d", slot)
	}
	c.t.Fatal("no live node in the cluster")
	return nil
}

func (c *Cluster) node(addr string) *Node {
	for _, n := range c.Nodes {
		if n.Addr == addr {
			return n
		}
	}
	c.t.Fatalf("%s is not a node of the cluster", addr)
	return nil
}

// Sentinel is a master, two replicas and three Sentinels watching them.
type Sentinel struct {
	Master     *Node
	Replicas   []*Node
	Sentinels  []*Node
	MasterName string
	t          testing.TB
}

// StartSentinel starts a master, two replicas of it and three Sentinels
// (quorum 2) that call the master down after 1s without an answer, and
// waits until every Sentinel knows both replicas and the other Sentinels.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	Need(t, "redis-server")
	s := &Sentinel{MasterName: "wgmaster", t: t}
	dir := t.TempDir()
	s.Master = start(t, dir, nil, func(port int) []string { return baseArgs(dir, port) })
	for range 2 {
		dir := t.TempDir()
		s.Replicas = append(s.Replicas, start(t, dir, nil, func(port int) []string {
			return append(baseArgs(dir, port), "--replicaof", "127.0.0.1", strconv.Itoa(s.Master.Port),
				"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0")
		}))
	}
	for i := range 3 {
		dir := t.TempDir()
		s.Sentinels = append(s.Sentinels, start(t, dir, nil, func(port int) []string {
			// A Sentinel rewrites its config file: each has its own.
			conf := filepath.Join(dir, fmt.Sprintf("sentinel-%d.conf", i))
			text := fmt.Sprintf("port %d\nbind 127.0.0.1\nprotected-mode no\ndir %s\n"+
				"sentinel monitor %s 127.0.0.1 %d 2\n"+
				"sentinel down-after-milliseconds %s 1000\n"+
				"sentinel failover-timeout %s 10000\n"+
				"sentinel parallel-syncs %s 2\n",
				port, dir, s.MasterName, s.Master.Port, s.MasterName, s.MasterName, s.MasterName)
			if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			return []string{conf, "--sentinel"}
		}))
	}
	err := Poll(60*time.Second, func() error {
		for _, sn := range s.Sentinels {
			m, err := sentinelMaster(sn, s.MasterName)
			if err != nil {
				return err
			}
			if m["num-slaves"] != "2" || m["num-other-sentinels"] != "2" {
				return fmt.Errorf("sentinel %s sees %s replicas and %s other sentinels, want 2 and 2", sn.Addr, m["num-slaves"], m["num-other-sentinels"])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the sentinels did not settle: %v", err)
	}
	return s
}

// Addrs are the Sentinels' addresses.
func (s *Sentinel) Addrs() []string {
	var a []string
	for _, n := range s.Sentinels {
		a = append(a, n.Addr)
	}
	return a
}

// MasterAddr is the master's address as the first live Sentinel says.
func (s *Sentinel) MasterAddr() (string, error) {
	for _, sn := range s.Sentinels {
		if !sn.Alive() {
			continue
		}
		c := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr, DialTimeout: time.Second, ReadTimeout: 2 * time.Second, MaxRetries: -1})
		defer c.Close()
		a, err := c.GetMasterAddrByName(context.Background(), s.MasterName).Result()
		if err != nil {
			return "", err
		}
		return net.JoinHostPort(a[0], a[1]), nil
	}
	return "", errors.New("no live sentinel")
}

// Node returns the server at addr (the master or a replica).
func (s *Sentinel) Node(addr string) *Node {
	for _, n := range append([]*Node{s.Master}, s.Replicas...) {
		if n.Addr == addr {
			return n
		}
	}
	s.t.Fatalf("%s is not a server of the sentinel setup", addr)
	return nil
}

func sentinelMaster(sn *Node, name string) (map[string]string, error) {
	c := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr, DialTimeout: time.Second, ReadTimeout: 2 * time.Second, MaxRetries: -1})
	defer c.Close()
	return c.Master(context.Background(), name).Result()
}

// syncBuffer collects what runs beside the test writes (testsync.Buffer).
type syncBuffer = testsync.Buffer

// Stop wraps err so that Poll returns it at once instead of retrying.
func Stop(err error) error { return testsync.Stop(err) }

// Poll calls f until it returns nil, returns Stop(err), or d passes
// (testsync.Poll).
func Poll(d time.Duration, f func() error) error { return testsync.Poll(d, f) }
