package hardening

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/test/internal/gatewaytest"
)

const slowReadersConfig = `
listeners:
  - name: main
    address: "{{.listen}}"
    timeouts: { write: 60s }
admin: { address: "{{.admin}}" }
server: { min_response_rate: { bytes_per_second: 32KiB, grace: 1s } }
upstreams:
  up: { targets: [{ url: "{{.up}}" }] }
routes:
  - name: all
    upstream: up
`

// bigBody is what each slow reader asks for.
const bigBody = 1 << 20

// TestSlowReaders (finding 5 of issue 13): hundreds of clients reading 1 MiB
// responses far slower than server.min_response_rate are cut off long
// before the write timeout (which a trickle of progress keeps extending),
// the gateway's memory stays bounded while they hold their connections, and
// a well-behaved client's p99 latency stays near its own baseline.
func TestSlowReaders(t *testing.T) {
	n := 300
	if s := os.Getenv("WASMGATE_SLOW_READERS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	big := bytes.Repeat([]byte("b"), bigBody)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			_, _ = w.Write(big)
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(up.Close)
	gw := startProcess(t, slowReadersConfig, vars{"up": up.URL})
	url := gw.URL("/small")

	normal := &http.Client{Timeout: 10 * time.Second}
	baseline := latencies(t, normal, url, 300)
	rssBase := rss(gw.Pid())
	if rssBase == 0 {
		t.Skip("no /proc/PID/status to read the gateway's RSS from")
	}

	// Peak RSS while the readers hold their connections.
	var peak atomic.Int64
	peak.Store(rssBase)
	sampling := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-sampling:
				return
			case <-tick.C:
			}
			if v := rss(gw.Pid()); v > peak.Load() {
				peak.Store(v)
			}
		}
	})

	// Each reader asks for 1 MiB and takes 2 KiB every 250ms (8 KiB/s, a
	// quarter of the minimum rate), through a small receive buffer so the
	// kernel on its side does not take the body off the gateway's hands.
	// It gives up after 30s, half the write timeout: a connection still
	// open then was not cut off by the rate.
	type outcome struct {
		got     int
		cut     bool // the gateway closed the connection before the body ended
		started bool
	}
	results := make([]outcome, n)
	var started, running sync.WaitGroup
	started.Add(n)
	running.Add(n)
	dialer := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	for i := range results {
		go func() {
			defer running.Done()
			once := sync.OnceFunc(started.Done)
			defer once()
			c, err := dialer.Dial("tcp", gw.Listen)
			if err != nil {
				t.Errorf("slow reader %d: %v", i, err)
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			io.WriteString(c, "GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
			br := bufio.NewReaderSize(c, 2048)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Errorf("slow reader %d: no response head: %v", i, err)
				return
			}
			results[i].started = resp.StatusCode == 200
			once()
			buf := make([]byte, 2048)
			for {
				m, err := resp.Body.Read(buf)
				results[i].got += m
				if err != nil {
					results[i].cut = !isTimeout(err) && !errors.Is(err, io.EOF)
					return
				}
				time.Sleep(250 * time.Millisecond) // the slowness is the attack
			}
		}()
	}
	started.Wait()

	// The well-behaved client, while the readers hold their connections.
	readersDone := make(chan struct{})
	go func() { running.Wait(); close(readersDone) }()
	var during []time.Duration
	for loop := true; loop; {
		select {
		case <-readersDone:
			loop = false
		default:
			during = append(during, latencies(t, normal, url, 1)...)
			time.Sleep(5 * time.Millisecond) // pacing: a steady client, not one that competes
		}
	}
	close(sampling)
	sampler.Wait()
	normal.CloseIdleConnections()

	cut, full, stalled := 0, 0, 0
	for i, r := range results {
		switch {
		case !r.started:
		case r.cut:
			cut++
		case r.got == bigBody:
			full++
		default:
			stalled++
			if stalled <= 3 {
				t.Logf("reader %d: %d bytes, still open after 30s", i, r.got)
			}
		}
	}
	p99b, p99d := p99(baseline), p99(during)
	t.Logf("%d slow readers: %d cut off, %d read it all, %d still open at 30s; RSS %d KiB before, peak %d KiB; well-behaved p99 %v baseline (n=%d), %v during (n=%d)",
		n, cut, full, stalled, rssBase, peak.Load(), p99b, len(baseline), p99d, len(during))
	if cut != n {
		t.Errorf("%d of %d slow readers were cut off by min_response_rate; %d were still open after 30s (write timeout 60s)", cut, n, stalled)
	}
	// Generous: a loaded 2-core machine runs the readers, the gateway and
	// this client at once. Without the rate, p99 rises to seconds.
	if limit := 5*p99b + 100*time.Millisecond; p99d > limit {
		t.Errorf("well-behaved p99 %v during the slow readers, want at most %v (5x baseline %v + 100ms)", p99d, limit, p99b)
	}
	// Each slow reader may hold a copy buffer and its upstream connection's
	// buffers, not its response: 1 MiB each would be 300 MiB. The race
	// detector's shadow memory takes several times more.
	perReader := int64(256)
	if gatewaytest.Race {
		perReader *= 8
	}
	if grew := peak.Load() - rssBase; grew > int64(n)*perReader {
		t.Errorf("gateway RSS grew by %d KiB with %d slow readers, want at most %d KiB each", grew, n, perReader)
	}
}

// rss reads a process's resident set size in KiB from /proc; 0 if it
// cannot.
func rss(pid int) int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}
