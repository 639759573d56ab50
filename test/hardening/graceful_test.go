package hardening

import (
	"encoding/json"
	"errors"
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

const gracefulConfig = `
listeners: [{ address: "{{.listen}}" }]
admin: { address: "{{.admin}}" }
server: { drain_timeout: 10s }
upstreams:
  up: { targets: [{ url: "{{.up}}" }] }
routes:
  - name: all
    filters:
      - headers: { response: { set: { X-Gen: "{{.gen}}" } } }
    upstream: up
`

// load runs workers that send GETs until stop closes (or, with perSecond > 0,
// at about that rate in total) and sorts every outcome: a 200, a request
// refused at connect (never accepted: allowed), or a loss.
type load struct {
	ok, refused atomic.Int64
	mu          sync.Mutex
	lost        []string
}

func (l *load) run(url string, workers, perSecond int, stop <-chan struct{}) {
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer c.CloseIdleConnections()
			var tick <-chan time.Time
			if perSecond > 0 {
				tk := time.NewTicker(time.Second * time.Duration(workers) / time.Duration(perSecond))
				defer tk.Stop()
				tick = tk.C
			}
			for {
				select {
				case <-stop:
					return
				default:
				}
				if tick != nil {
					select {
					case <-stop:
						return
					case <-tick:
					}
				}
				l.one(c, url)
			}
		}()
	}
	wg.Wait()
}

func (l *load) one(c *http.Client, url string) {
	resp, err := c.Get(url)
	if err != nil {
		if strings.Contains(err.Error(), "connection refused") {
			l.refused.Add(1)
			time.Sleep(5 * time.Millisecond) // pacing: back off before dialling a stopped gateway again
			return
		}
		l.loss(err.Error())
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		l.loss("body: " + err.Error())
	case resp.StatusCode != 200 || string(body) != "served":
		l.loss(fmt.Sprintf("%d %q", resp.StatusCode, body))
	default:
		l.ok.Add(1)
	}
}

func (l *load) loss(s string) {
	l.mu.Lock()
	l.lost = append(l.lost, s)
	l.mu.Unlock()
}

func servedUpstream(t *testing.T, delay time.Duration, hits *atomic.Int64) *httptest.Server {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		time.Sleep(delay) // a deliberately slow upstream: requests are in flight when the signal lands
		io.WriteString(w, "served")
	}))
	t.Cleanup(up.Close)
	return up
}

// TestSIGTERMUnderLoadLosesNothing: every request the gateway accepted
// before SIGTERM is answered in full; after it, connections are refused
// (never reset mid-request), and the process exits 0.
func TestSIGTERMUnderLoadLosesNothing(t *testing.T) {
	var hits atomic.Int64
	up := servedUpstream(t, 20*time.Millisecond, &hits)
	p := startProcess(t, gracefulConfig, vars{"up": up.URL, "gen": "1"})

	var l load
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { l.run("http://"+p.Listen+"/", 16, 0, stop); close(done) }()
	// SIGTERM must land under load: wait until every worker can have been
	// answered a few times (each request spends 20ms at the upstream).
	waitUntil(t, 10*time.Second, "the load to flow", func() bool { return l.ok.Load() >= 64 })
	p.Signal(syscall.SIGTERM)
	code := p.Wait(15 * time.Second)
	close(stop)
	<-done

	t.Logf("SIGTERM under load: %d answered, %d refused after the stop, %d lost; upstream saw %d", l.ok.Load(), l.refused.Load(), len(l.lost), hits.Load())
	if code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
	if len(l.lost) > 0 {
		t.Errorf("%d accepted requests lost, first: %s", len(l.lost), l.lost[0])
	}
	if l.ok.Load() == 0 {
		t.Fatal("no request was answered before the stop")
	}
	if h := hits.Load(); h != l.ok.Load() {
		t.Errorf("the upstream served %d requests, the clients got %d answers", h, l.ok.Load())
	}
}

// TestReloadsUnderLoadLoseNothing rewrites the config every second while
// traffic flows: 5 reloads under as much load as the machine gives in CI,
// or, with WASMGATE_HARDENING_LONG=1, a minute at 1,000 req/s.
func TestReloadsUnderLoadLoseNothing(t *testing.T) {
	var hits atomic.Int64
	up := servedUpstream(t, 0, &hits)
	p := startProcess(t, gracefulConfig, vars{"up": up.URL, "gen": "0"})
	reloads, workers, rate := 5, 8, 0
	if long() {
		reloads, workers, rate = 60, 32, 1000
	}

	var l load
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { l.run("http://"+p.Listen+"/", workers, rate, stop); close(done) }()
	gen0, err := generation(p.Admin)
	if err != nil {
		t.Fatal(err)
	}
	// Each rewrite is applied, then traffic is answered by the new
	// generation, before the next: every reload happens under load.
	answered := func(n int64) func() bool {
		from := l.ok.Load()
		return func() bool { return l.ok.Load() >= from+n }
	}
	var pace <-chan time.Time
	if long() {
		tk := time.NewTicker(time.Second) // the long run spreads its reloads over a minute
		defer tk.Stop()
		pace = tk.C
	}
	for i := 1; i <= reloads; i++ {
		if pace != nil {
			<-pace
		}
		p.WriteConfig(gracefulConfig, vars{"gen": fmt.Sprint(i)})
		waitUntil(t, 10*time.Second, fmt.Sprintf("rewrite %d to be applied", i), func() bool {
			g, err := generation(p.Admin)
			return err == nil && g >= gen0+uint64(i)
		})
		waitUntil(t, 10*time.Second, fmt.Sprintf("traffic after reload %d", i), answered(int64(workers)))
	}
	close(stop)
	<-done

	gen, err := generation(p.Admin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d config rewrites under load: generation %d, %d answered, %d lost", reloads, gen, l.ok.Load(), len(l.lost))
	if gen < uint64(reloads)/2 {
		t.Errorf("generation %d after %d rewrites: the reloads did not happen", gen, reloads)
	}
	if n := l.refused.Load(); n > 0 {
		t.Errorf("%d connections refused during reloads", n)
	}
	if len(l.lost) > 0 {
		t.Errorf("%d requests lost during reloads, first: %s", len(l.lost), l.lost[0])
	}
}

// waitUntil polls cond (every few milliseconds) until it holds, failing the
// test if it still does not after within.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(5 * time.Millisecond) // poll interval; the condition is what is waited for
	}
}

func generation(admin string) (uint64, error) {
	resp, err := http.Get("http://" + admin + "/status")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var st struct {
		Generation uint64 `json:"generation"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return 0, errors.New("GET /status: " + err.Error())
	}
	return st.Generation, nil
}

const listenerReloadConfig = `
listeners: [{ address: "{{.listen}}", h2c: {{.h2c}}, timeouts: { idle: {{.idle}} } }]
admin: { address: "{{.admin}}" }
server: { drain_timeout: 10s }
upstreams:
  up: { targets: [{ url: "{{.up}}" }] }
routes:
  - { name: all, upstream: up }
`

// TestListenerReloadsUnderPOSTLoseNothing rewrites a listener's idle timeout
// again and again, which starts a new http.Server on the socket and drains
// the old one, while clients send POSTs back to back. A POST cannot be
// retried by the client, so the old server must never close a connection
// that a client may be sending on: it ends each one with "Connection: close"
// on its next response (HTTP/1) or GOAWAY (h2c), never under a request. Every
// POST must be answered, and must reach the upstream exactly once.
func TestListenerReloadsUnderPOSTLoseNothing(t *testing.T) {
	for _, mode := range []string{"keep-alive", "close", "h2c"} {
		t.Run(mode, func(t *testing.T) { postsAcrossListenerReloads(t, mode) })
	}
}

func postsAcrossListenerReloads(t *testing.T, mode string) {
	const workers, reloads = 12, 12
	var mu sync.Mutex
	seen := map[string]int{} // request id → times the upstream received it
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil || len(body) < 40 {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		seen[string(body[:40])]++
		mu.Unlock()
		io.WriteString(w, "served")
	}))
	t.Cleanup(up.Close)
	h2c := fmt.Sprint(mode == "h2c")
	p := startProcess(t, listenerReloadConfig, vars{"up": up.URL, "h2c": h2c, "idle": "30s"})

	var answered atomic.Int64
	var failMu sync.Mutex
	var failed []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableKeepAlives: mode == "close"}
			if mode == "h2c" {
				tr.Protocols = new(http.Protocols)
				tr.Protocols.SetUnencryptedHTTP2(true)
			}
			defer tr.CloseIdleConnections()
			c := &http.Client{Timeout: 15 * time.Second, Transport: tr}
			pad := strings.Repeat("x", 2000)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("%-40s", fmt.Sprintf("w%d-%d", w, i))
				req, err := http.NewRequest(http.MethodPost, "http://"+p.Listen+"/", strings.NewReader(id+pad))
				if err != nil {
					panic(err)
				}
				if mode != "h2c" {
					// No second attempt, even for a request the transport
					// believes was never written: every failure counts.
					// (h2 retries only streams the server's GOAWAY says it
					// never processed; the upstream count checks that.)
					req.GetBody = nil
				}
				resp, err := c.Do(req)
				if err == nil {
					var body []byte
					body, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && (resp.StatusCode != 200 || string(body) != "served") {
						err = fmt.Errorf("%d %q", resp.StatusCode, body)
					}
				}
				if err != nil {
					failMu.Lock()
					failed = append(failed, fmt.Sprintf("%s: %v", strings.TrimSpace(id), err))
					failMu.Unlock()
					continue
				}
				answered.Add(1)
			}
		}()
	}

	gen := p.Status().Generation
	for i := 1; i <= reloads; i++ {
		// Traffic flows on the current server before each rewrite, so
		// every drain starts with connections busy or about to be reused.
		from := answered.Load()
		waitUntil(t, 10*time.Second, fmt.Sprintf("traffic before rewrite %d", i), func() bool { return answered.Load() >= from+3*workers })
		p.WriteConfig(listenerReloadConfig, vars{"idle": fmt.Sprintf("%ds", 30+i%2)})
		gen = p.WaitGeneration(gen)
	}
	from := answered.Load()
	waitUntil(t, 10*time.Second, "traffic after the last rewrite", func() bool { return answered.Load() >= from+3*workers })
	close(stop)
	wg.Wait()

	twice, received := 0, 0
	mu.Lock()
	for _, n := range seen {
		received += n
		if n > 1 {
			twice++
		}
	}
	mu.Unlock()
	t.Logf("%s: %d listener rewrites, %d POSTs answered, %d failed; the upstream received %d", mode, reloads, answered.Load(), len(failed), received)
	if len(failed) > 0 {
		t.Errorf("%d POSTs failed across listener reloads, first: %s", len(failed), failed[0])
	}
	if twice > 0 {
		t.Errorf("%d POSTs reached the upstream more than once", twice)
	}
	if len(failed) == 0 && int64(received) != answered.Load() {
		t.Errorf("the upstream received %d POSTs, the clients got %d answers", received, answered.Load())
	}

	// Every replaced server ends on its own once its clients are done with
	// it, long before the drain timeout would cut it short.
	drained := func() int { return strings.Count(p.Stderr.String(), `"msg":"server drained"`) }
	waitUntil(t, 15*time.Second, "the replaced servers to drain", func() bool { return drained() >= reloads })
	if n := strings.Count(p.Stderr.String(), `"timed_out":true`); n > 0 {
		t.Errorf("%d of %d replaced servers were closed at the drain timeout", n, drained())
	}
}
