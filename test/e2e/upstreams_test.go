package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// upstreamsCfg: four targets behind one upstream with health checks,
// outlier ejection and retries; {{.balancer}} and {{.which}} vary between
// reloads (the first rebuilds the upstream, the second only the route).
const upstreamsCfg = head + `
upstreams:
  pool:
    balancer: {{.balancer}}
    targets: [{ url: "{{.a}}" }, { url: "{{.b}}" }, { url: "{{.c}}" }, { url: "{{.d}}" }]
    health:
      active: { path: /healthz, interval: 200ms, timeout: 100ms }
      passive: { failures: 3, eject: 5s }
    retries: { attempts: 3, on: [connect_failure, reset, "502", "503"], budget: 20% }
routes:
  - name: pool
    match: { prefix: /r }
    filters:
      - headers: { response: { set: { X-Config: "{{.which}}" } } }
    upstream: pool
`

// load runs GET and POST workers (half with keep-alive off) against path
// until stop, and counts what failed.
type load struct {
	total, failed atomic.Int64
	mu            sync.Mutex
	firsts        []string
	stop          atomic.Bool
	wg            sync.WaitGroup
}

func (l *load) start(g *gateway, workers int) {
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			tr := &http.Transport{DisableKeepAlives: w%2 == 1, MaxIdleConnsPerHost: 4}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			for i := 0; !l.stop.Load(); i++ {
				var req *http.Request
				body := fmt.Sprintf("w%d-%d", w, i)
				if i%2 == 0 {
					req, _ = http.NewRequest(http.MethodGet, g.URL("/r/get"), nil)
				} else {
					req, _ = http.NewRequest(http.MethodPost, g.URL("/r/post"), strings.NewReader(body))
				}
				l.total.Add(1)
				resp, err := c.Do(req)
				var got []byte
				if err == nil {
					got, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				switch {
				case err != nil:
					l.fail(fmt.Sprintf("%s: %v", req.Method, err))
				case resp.StatusCode != http.StatusOK:
					l.fail(fmt.Sprintf("%s: %d %s", req.Method, resp.StatusCode, got))
				case i%2 == 1 && !strings.Contains(string(got), `"body":"`+body+`"`):
					l.fail(fmt.Sprintf("POST: upstream did not get %q", body))
				}
			}
		}()
	}
}

func (l *load) fail(msg string) {
	l.failed.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.firsts) < 10 {
		l.firsts = append(l.firsts, msg)
	}
}

func (l *load) end() {
	l.stop.Store(true)
	l.wg.Wait()
}

// waitRequests waits until n more requests were sent.
func (l *load) waitRequests(t *testing.T, n int64) {
	t.Helper()
	next := l.total.Load() + n
	if err := poll(10*time.Second, func() error {
		if l.total.Load() < next {
			return fmt.Errorf("only %d requests", l.total.Load())
		}
		return nil
	}); err != nil {
		t.Fatalf("traffic stalled: %v", err)
	}
}

// poolVars starts four echo upstreams (they answer /healthz too).
func poolVars(t *testing.T) (vars, []*echoUpstream) {
	v := vars{"balancer": "round_robin", "which": "A"}
	var ups []*echoUpstream
	for _, name := range []string{"a", "b", "c", "d"} {
		u := newEcho(t, name)
		ups = append(ups, u)
		v[name] = u.URL
	}
	return v, ups
}

func TestZeroDropReload(t *testing.T) {
	needBinary(t)
	v, _ := poolVars(t)
	g := startGateway(t, upstreamsCfg, v)
	var l load
	l.start(g, 4)
	gen := g.Status().Generation
	balancers := []string{"round_robin", "p2c_ewma", "least_conn", "p2c_ewma"}
	const reloads = 16
	for i := range reloads {
		// Every other reload changes the upstream (a new balancer: it is
		// rebuilt and inherits its targets' health); the others only the route.
		extra := vars{"balancer": balancers[(i/2)%len(balancers)], "which": string(rune('A' + i%2))}
		g.WriteConfig(upstreamsCfg, extra)
		if i%2 == 0 {
			g.Signal(syscall.SIGHUP)
		} // else the file watcher notices
		gen = g.WaitGeneration(gen)
		l.waitRequests(t, 20)
	}
	l.end()
	t.Logf("%d requests (GET and POST, keep-alive on and off) over %d reloads, %d failed", l.total.Load(), reloads, l.failed.Load())
	if l.failed.Load() != 0 {
		t.Errorf("%d of %d requests failed during reloads, want 0; first: %v", l.failed.Load(), l.total.Load(), l.firsts)
	}
}

// adminUpstream is the part of GET /upstreams the tests read.
type adminUpstream struct {
	Name          string `json:"name"`
	Retries       uint64 `json:"retries"`
	RetriesDenied uint64 `json:"retries_denied"`
	Targets       []struct {
		URL       string `json:"url"`
		Available bool   `json:"available"`
		Ejected   bool   `json:"ejected"`
		Healthy   bool   `json:"healthy"`
		Requests  uint64 `json:"requests"`
	} `json:"targets"`
}

func upstreams(g *gateway) []adminUpstream {
	var out []adminUpstream
	g.AdminJSON("/upstreams", &out)
	return out
}

func TestOutageWithRetries(t *testing.T) {
	needBinary(t)
	v, ups := poolVars(t)
	v["balancer"] = "p2c_ewma"
	g := startGateway(t, upstreamsCfg, v)
	var l load
	l.start(g, 8)
	l.waitRequests(t, 500)
	// Kill one of four targets mid-load: its listener and every connection.
	ups[1].CloseClientConnections()
	ups[1].Close()
	killedAt := l.total.Load()
	// The checks and the ejection take it out; traffic goes on.
	if err := poll(10*time.Second, func() error {
		for _, tg := range upstreams(g)[0].Targets {
			if tg.URL == ups[1].URL && tg.Available {
				return fmt.Errorf("killed target still available")
			}
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
	l.waitRequests(t, 2000)
	l.end()
	st := upstreams(g)[0]
	total := l.total.Load()
	rate := float64(l.failed.Load()) / float64(total)
	t.Logf("first failures: %v; targets %+v", l.firsts, st.Targets)
	t.Logf("%d requests (%d after the kill), %d failed (%.3f%%); %d retries (%.2f%% of requests), %d refused by the budget",
		total, total-killedAt, l.failed.Load(), rate*100, st.Retries, float64(st.Retries)*100/float64(total), st.RetriesDenied)
	if rate >= 0.001 {
		t.Errorf("%.3f%% of requests failed with one of four targets down, want < 0.1%%; first: %v", rate*100, l.firsts)
	}
	if float64(st.Retries) > 0.2*float64(total) {
		t.Errorf("%d retries for %d requests: above the 20%% budget", st.Retries, total)
	}
}
