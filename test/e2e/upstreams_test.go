package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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
      active: { path: /healthz, interval: 1s, timeout: 1s }
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
	getFailed     atomic.Int64 // failed GETs (a GET is always retried)
	lateFailed    atomic.Int64 // failures of requests sent after late was set
	late          atomic.Bool
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
				late := l.late.Load()
				resp, err := c.Do(req)
				var got []byte
				if err == nil {
					got, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				msg := ""
				switch {
				case err != nil:
					msg = fmt.Sprintf("%s: %v", req.Method, err)
				case resp.StatusCode != http.StatusOK:
					msg = fmt.Sprintf("%s: %d %s", req.Method, resp.StatusCode, got)
				case i%2 == 1 && !strings.Contains(string(got), `"body":"`+body+`"`):
					msg = fmt.Sprintf("POST: upstream did not get %q", body)
				}
				if msg != "" {
					l.fail(msg)
					if req.Method == http.MethodGet {
						l.getFailed.Add(1)
					}
					if late {
						l.lateFailed.Add(1)
					}
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
	// Only a stall fails: on a loaded machine (the race detector, other
	// test binaries) a few hundred requests a second is all there is.
	if err := poll(2*time.Minute, func() error {
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

// TestZeroDropReload10kRoutes is TestZeroDropReload at scale: 10,000
// routes (the config limit), the loaded one and 9,999 each with its own
// templated path and a headers filter, reloaded with POST /reload while GET and POST load runs.
// Every request succeeds, and after each reload a generated route answers
// with the new config's header. Request counts are modest and nothing is
// timed, so a loaded machine only makes it slower.
func TestZeroDropReload10kRoutes(t *testing.T) {
	needBinary(t)
	v, _ := poolVars(t)
	v["balancer"] = "round_robin"
	v["which"] = "A"
	var sb strings.Builder
	sb.WriteString(upstreamsCfg)
	for i := range 9999 {
		fmt.Fprintf(&sb, "  - name: r%d\n    match: { path: \"/api/v1/items%d/{id}\", methods: [GET] }\n", i, i)
		sb.WriteString("    filters: [{ headers: { response: { set: { X-Config: \"{{.which}}-{id}\" } } } }]\n    upstream: pool\n")
	}
	cfg := sb.String()
	g := startGateway(t, cfg, v)
	var l load
	l.start(g, 4)
	l.waitRequests(t, 20)
	const reloads = 6
	for i := range reloads {
		which := string(rune('B' + i%2))
		g.WriteConfig(cfg, vars{"which": which})
		gen := g.Status().Generation
		start := time.Now()
		if code, body := g.Reload(); code != http.StatusOK {
			t.Fatalf("POST /reload: %d %s", code, body)
		}
		took := time.Since(start)
		if after := g.Status().Generation; after <= gen {
			t.Fatalf("POST /reload answered but the generation stayed %d", after)
		}
		route := (i * 1237) % 9999
		resp, body := g.Get(fmt.Sprintf("/api/v1/items%d/%d", route, i))
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Config") != fmt.Sprintf("%s-%d", which, i) {
			t.Errorf("route r%d after reload %d: %d, X-Config %q, want %s-%d; %s", route, i, resp.StatusCode, resp.Header.Get("X-Config"), which, i, body)
		}
		t.Logf("reload %d of 10,000 routes: %v (wall time on this machine)", i, took.Round(time.Millisecond))
		l.waitRequests(t, 20)
	}
	l.end()
	t.Logf("%d requests over %d reloads of 10,000 routes, %d failed", l.total.Load(), reloads, l.failed.Load())
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

// TestOutageWithRetries kills one of four targets under GET and POST load
// (half the workers without keep-alive). A GET that meets the dead target
// is retried on another; a POST whose connection is cut after it was sent
// is not (it may have been processed), so the only failures allowed are
// POSTs in flight to the killed target at the kill — at most one per POST
// worker — and none once the gateway reports the target unavailable.
func TestOutageWithRetries(t *testing.T) {
	needBinary(t)
	v, ups := poolVars(t)
	v["balancer"] = "p2c_ewma"
	g := startGateway(t, upstreamsCfg, v)
	const workers = 8 // even-numbered ones send GET then POST alternately, as do the odd ones
	var l load
	l.start(g, workers)
	l.waitRequests(t, 500)
	// Kill one of four targets mid-load: its listener and every connection.
	ups[1].CloseClientConnections()
	ups[1].Close()
	killedAt := l.total.Load()
	// The checks and the ejection take it out; traffic goes on.
	if err := poll(30*time.Second, func() error {
		for _, tg := range upstreams(g)[0].Targets {
			if tg.URL == ups[1].URL && tg.Available {
				return fmt.Errorf("killed target still available")
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	l.late.Store(true)
	l.waitRequests(t, 2000)
	l.end()
	st := upstreams(g)[0]
	total := l.total.Load()
	t.Logf("%d requests (%d after the kill), %d failed; %d retries, %d refused by the budget; first failures: %v",
		total, total-killedAt, l.failed.Load(), st.Retries, st.RetriesDenied, l.firsts)
	if n := l.getFailed.Load(); n != 0 {
		t.Errorf("%d GETs failed, want 0 (a GET is retried on another target); first: %v", n, l.firsts)
	}
	if n := l.lateFailed.Load(); n != 0 {
		t.Errorf("%d requests sent after the target was reported unavailable failed, want 0; first: %v", n, l.firsts)
	}
	if n := l.failed.Load(); n > workers {
		t.Errorf("%d POSTs failed, want at most %d (one in flight per worker at the kill); first: %v", n, workers, l.firsts)
	}
	for _, tg := range st.Targets {
		if tg.URL != ups[1].URL && !tg.Available {
			t.Errorf("live target %s reported unavailable", tg.URL)
		}
	}
}

// retryBudgetCfg: one target that fails everything with 503, retried once
// under a 20% budget, which bounds the retries in flight at max(3, 20% of
// the upstream's active requests).
const retryBudgetCfg = head + `
upstreams:
  flaky:
    targets: [{ url: "{{.up}}" }]
    retries: { attempts: 2, on: ["503"], budget: 20% }
routes:
  - name: flaky
    upstream: flaky
`

// TestRetryBudgetRefuses holds 30 requests at the upstream, fails them all
// at once, and holds the retries: the budget lets at most 6 (20% of 30)
// retries be in flight, so most are refused; the refused ones reach the
// client as the upstream's 503, and nothing beyond the budget reaches the
// upstream. Counted at the upstream and on the admin API.
func TestRetryBudgetRefuses(t *testing.T) {
	needBinary(t)
	const clients = 30
	var arrivals atomic.Int64
	gates := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	var phase atomic.Int32 // which gate a new arrival waits at
	var opened [2]sync.Once
	open := func(i int) { opened[i].Do(func() { close(gates[i]) }) }
	arrived := make(chan struct{}, 4*clients)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gate := gates[phase.Load()]
		arrivals.Add(1)
		arrived <- struct{}{}
		<-gate
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(up.Close)
	t.Cleanup(func() { open(0); open(1) }) // before up.Close, which waits for its handlers
	g := startGateway(t, retryBudgetCfg, vars{"up": up.URL})

	statuses := make(chan int, clients)
	for range clients {
		go func() {
			resp, err := http.Get(g.URL("/x"))
			if err != nil {
				statuses <- 0
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	for range clients {
		<-arrived // every first attempt is held at the upstream
	}
	phase.Store(1)
	open(0) // all fail at once; their retries are held at gates[1]
	// Each client now either has its answer (retry refused) or a retry
	// held at the upstream: wait until that accounts for all of them.
	finished, held := 0, 0
	for finished+held < clients {
		select {
		case st := <-statuses:
			if st != http.StatusServiceUnavailable {
				t.Fatalf("a client got %d, want the upstream's 503", st)
			}
			finished++
		case <-arrived:
			held++
		case <-time.After(30 * time.Second):
			t.Fatalf("stuck: %d answered, %d retries held of %d", finished, held, clients)
		}
	}
	t.Logf("%d retries held in flight, %d refused by the budget", held, finished)
	if held > clients/5 || finished == 0 {
		t.Errorf("%d retries in flight at once, %d refused: want at most %d (20%% of %d) in flight", held, finished, clients/5, clients)
	}
	open(1)
	for range clients - finished {
		if st := <-statuses; st != http.StatusServiceUnavailable {
			t.Errorf("a retried client got %d, want 503", st)
		}
	}
	st := upstreams(g)[0]
	if st.RetriesDenied != uint64(finished) || st.Retries != uint64(held) {
		t.Errorf("admin: %d retries, %d refused; the upstream saw %d retries and the clients %d refusals", st.Retries, st.RetriesDenied, held, finished)
	}
	if n := arrivals.Load(); n != int64(clients+held) {
		t.Errorf("the upstream got %d requests, want %d first attempts + %d retries", n, clients, held)
	}
}
