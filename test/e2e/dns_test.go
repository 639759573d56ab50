package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/test/internal/gatewaytest"
)

const dnsConfig = head + `
observability: { metrics: { prometheus: true } }
upstreams:
  svc:
    targets: [{ url: "http://api.wasmgate.test:{{.port}}" }]
    dns: { refresh: 100ms, resolver: "{{.dns}}" }
routes:
  - name: svc
    upstream: svc
`

// TestDNSRefresh points the binary's dns.resolver at a DNS server the test
// runs, for an upstream named by host name: the name's address moves from
// 127.0.0.1 to 127.0.0.2 (one upstream on each, same port) and traffic
// follows it, the log and /metrics saying so; then the server fails every
// query and traffic stays on the last good address, the failures counted
// and logged once; then it answers again and the log says the name
// resolves again.
func TestDNSRefresh(t *testing.T) {
	needBinary(t)
	if runtime.GOOS != "linux" {
		t.Skip("the test binds 127.0.0.2, which only Linux routes to loopback without an alias")
	}
	const name = "api.wasmgate.test"
	a, b := newEcho(t, "a"), newEcho(t, "b")
	port := sameLoopbackPort(t, a, b)
	dns := gatewaytest.StartDNS(t)
	dns.Set(name, netip.MustParseAddr("127.0.0.1"))
	g := startGateway(t, dnsConfig, vars{"port": strconv.Itoa(port), "dns": dns.Addr})

	get := func() string {
		t.Helper()
		resp, body := g.Get("/x")
		return decodeSeen(t, resp.StatusCode, body).Upstream
	}
	for range 5 {
		if got := get(); got != "a" {
			t.Fatalf("request reached %q before any change, want a (127.0.0.1)", got)
		}
	}
	if dns.Queries(name) == 0 {
		t.Fatal("the gateway resolved the name without asking dns.resolver")
	}

	// The record moves: the next refresh's answer swaps the targets.
	dns.Set(name, netip.MustParseAddr("127.0.0.2"))
	if err := poll(10*time.Second, func() error {
		if got := get(); got != "b" {
			return fmt.Errorf("still reaching %q", got)
		}
		return nil
	}); err != nil {
		t.Fatalf("traffic did not move to the new address: %v", err)
	}
	aHits := a.hits.Load()
	for range 20 {
		if got := get(); got != "b" {
			t.Fatalf("a request reached %q after the move, want b", got)
		}
	}
	if n := a.hits.Load(); n != aHits {
		t.Errorf("the old address got %d more requests after the move", n-aHits)
	}
	waitLog(t, g, "upstream DNS: the name's addresses changed", "addresses", "127.0.0.2")
	if v, ok := g.Metric("wasmgate_upstream_dns_changes_total", "upstream=svc"); !ok || v < 1 {
		t.Errorf("wasmgate_upstream_dns_changes_total{upstream=svc} = %v (present %v), want >= 1", v, ok)
	}
	bTarget := net.JoinHostPort("127.0.0.2", strconv.Itoa(port))
	// The resolver fails: the last good address stays, the failures counted.
	dns.Fail(true)
	if err := poll(10*time.Second, func() error {
		if v, ok := g.Metric("wasmgate_upstream_dns_failures_total", "upstream=svc"); !ok || v < 2 {
			return fmt.Errorf("wasmgate_upstream_dns_failures_total{upstream=svc} = %v (present %v)", v, ok)
		}
		return nil
	}); err != nil {
		t.Fatalf("failed lookups not counted: %v", err)
	}
	for range 20 {
		if got := get(); got != "b" {
			t.Fatalf("a request reached %q while DNS failed, want b (the last good address)", got)
		}
	}
	waitLog(t, g, "upstream DNS: the name does not resolve; keeping its last good addresses", "kept", bTarget)
	if !strings.Contains(g.Stderr.String(), "on "+dns.Addr+": server misbehaving") {
		t.Errorf("the failure's log line does not name the resolver asked, %s", dns.Addr)
	}
	if n := countLog(g, "upstream DNS: the name does not resolve; keeping its last good addresses"); n != 1 {
		t.Errorf("the failing name was logged %d times, want once until it resolves again", n)
	}
	var ups []struct {
		Name string `json:"name"`
		DNS  struct {
			Resolver  string `json:"resolver"`
			Failures  uint64 `json:"failures"`
			Changes   uint64 `json:"changes"`
			LastError string `json:"last_error"`
		} `json:"dns"`
		Targets []struct {
			URL string `json:"url"`
		} `json:"targets"`
	}
	g.AdminJSON("/upstreams", &ups)
	if len(ups) != 1 || ups[0].DNS.Resolver != dns.Addr || ups[0].DNS.Failures < 2 || ups[0].DNS.Changes < 1 ||
		ups[0].DNS.LastError == "" || len(ups[0].Targets) != 1 || ups[0].Targets[0].URL != "http://"+bTarget {
		t.Errorf("GET /upstreams = %+v, want resolver %s, failures >= 2, a change, the last error, and the one target http://%s", ups, dns.Addr, bTarget)
	}

	// The resolver answers again.
	dns.Fail(false)
	waitLog(t, g, "upstream DNS: the name resolves again", "addresses", "127.0.0.2")
	if got := get(); got != "b" {
		t.Errorf("after recovery a request reached %q, want b", got)
	}
}

// sameLoopbackPort moves a to 127.0.0.1:P and b to 127.0.0.2:P, the same
// port P on both, so that one target URL (a name and a port) can reach
// either by the address the name resolves to; it returns P.
func sameLoopbackPort(t *testing.T, a, b *echoUpstream) int {
	t.Helper()
	for range 10 {
		la, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := la.Addr().(*net.TCPAddr).Port
		lb, err := net.Listen("tcp", net.JoinHostPort("127.0.0.2", strconv.Itoa(port)))
		if err != nil {
			la.Close() // the port is taken on 127.0.0.2: another
			continue
		}
		for _, s := range []struct {
			u  *echoUpstream
			ln net.Listener
		}{{a, la}, {b, lb}} {
			s.u.Close()
			srv := httptest.NewUnstartedServer(http.HandlerFunc(s.u.serve))
			srv.Listener = s.ln
			srv.Start()
			t.Cleanup(srv.Close)
			s.u.Server = srv
		}
		return port
	}
	t.Fatal("no port free on both 127.0.0.1 and 127.0.0.2")
	return 0
}

// waitLog waits for a gateway log line (JSON, on stderr) with msg and the
// attribute key holding value.
func waitLog(t *testing.T, g *gateway, msg, key, value string) {
	t.Helper()
	if err := g.Stderr.WaitFor(10*time.Second, nil, func(log []byte) bool {
		return findLog(log, msg, key, value) > 0
	}); err != nil {
		t.Fatalf("no log line %q with %s=%s: %v\n%s", msg, key, value, err, gatewaytest.Tail(g.Stderr.String(), 3000))
	}
}

func countLog(g *gateway, msg string) int { return findLog([]byte(g.Stderr.String()), msg, "", "") }

// findLog counts the JSON log lines with msg (and, if key is set, that
// attribute holding value).
func findLog(log []byte, msg, key, value string) int {
	n := 0
	for line := range bytes.SplitSeq(log, []byte("\n")) {
		var e map[string]any
		if json.Unmarshal(line, &e) != nil || e["msg"] != msg {
			continue
		}
		if key == "" || e[key] == value {
			n++
		}
	}
	return n
}
