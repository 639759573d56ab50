package e2e

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/quic-go/quic-go/http3"

	"github.com/wasmgate/wasmgate/test/internal/gatewaytest"
)

const http3BenchConfig = `
listeners:
  - address: "{{.listen}}"
    tls: { certificates: [{ cert: "{{.cert}}", key: "{{.key}}" }] }
    http3: true
admin: { address: "{{.admin}}" }
upstreams:
  up: { targets: [{ url: "{{.up}}" }] }
routes:
  - name: all
    upstream: up
`

// BenchmarkHTTP3CPUPerRequest measures the gateway process's CPU time
// (utime+stime from /proc/PID/stat) per request on one proxied route
// (1 KiB responses), over HTTP/1.1 (TLS, 16 connections), h2 and HTTP/3
// (one connection each, 16 requests in flight), for docs/http3.md:
//
//	go test ./test/e2e -run '^$' -bench HTTP3CPUPerRequest -benchtime 20000x
//
// The clients and the upstream run in the test process, so only the
// gateway's own work is counted.
func BenchmarkHTTP3CPUPerRequest(b *testing.B) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		b.Skip("needs /proc")
	}
	dir := b.TempDir()
	cert := gatewaytest.NewCert(b, dir, "a.test", nil, false, false)
	body := bytes.Repeat([]byte("x"), 1024)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	b.Cleanup(up.Close)
	// No race detector, and no per-request debug log: both would be most
	// of the CPU measured.
	g := gatewaytest.Start(b, http3BenchConfig, vars{"cert": cert.CertFile, "key": cert.KeyFile, "up": up.URL},
		gatewaytest.Options{NoRace: true, LogLevel: "info"})
	roots := &tls.Config{RootCAs: certPool(cert), ServerName: "a.test"}

	const inFlight = 16
	clients := []struct {
		name string
		rt   func() http.RoundTripper
	}{
		{"h1", func() http.RoundTripper {
			return &http.Transport{TLSClientConfig: roots.Clone(), MaxIdleConnsPerHost: inFlight}
		}},
		{"h2", func() http.RoundTripper {
			return &http.Transport{TLSClientConfig: roots.Clone(), ForceAttemptHTTP2: true}
		}},
		{"h3", func() http.RoundTripper { return &http3.Transport{TLSClientConfig: roots.Clone()} }},
	}
	for _, c := range clients {
		b.Run(c.name, func(b *testing.B) {
			rt := c.rt()
			defer closeTransport(rt)
			url := "https://" + g.Listen + "/bench"
			var failed atomic.Int64
			send := func(n int) {
				var wg sync.WaitGroup
				var next atomic.Int64
				for range inFlight {
					wg.Go(func() {
						for next.Add(1) <= int64(n) {
							req, _ := http.NewRequest("GET", url, nil)
							resp, err := rt.RoundTrip(req)
							if err != nil {
								failed.Add(1)
								continue
							}
							if n, _ := io.Copy(io.Discard, resp.Body); n != int64(len(body)) || resp.StatusCode != 200 {
								failed.Add(1)
							}
							resp.Body.Close()
						}
					})
				}
				wg.Wait()
			}
			send(500) // connections up, pools warm
			b.ResetTimer()
			before := procCPU(b, g.Pid())
			send(b.N)
			cpu := procCPU(b, g.Pid()) - before
			b.StopTimer()
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d requests failed", n)
			}
			b.ReportMetric(float64(cpu)/float64(b.N), "gw-cpu-µs/req")
		})
	}
}

func closeTransport(rt http.RoundTripper) {
	switch t := rt.(type) {
	case *http.Transport:
		t.CloseIdleConnections()
	case *http3.Transport:
		t.Close()
	}
}

// procCPU is the process's user+system CPU time in microseconds, counted
// in clock ticks of 10ms (USER_HZ 100): measure long enough runs.
func procCPU(tb testing.TB, pid int) int64 {
	tb.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	// fields[0] is the state (field 3); utime and stime are fields 14, 15.
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		tb.Fatalf("/proc/%d/stat: %q", pid, s)
	}
	return (utime + stime) * 10_000
}
