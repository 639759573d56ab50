package e2e

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wasmgate/wasmgate/internal/redistopo"
)

// scaleOutConfig is one gateway of several sharing a Redis deployment
// ({{.store}}): a limit of 5000 a day (its refill, one per 17s, is noise
// over a test), two routes that differ only in their failure policy, and
// a quota. Timeouts are generous: a loaded machine must not make a
// decision time out outside the failover.
const scaleOutConfig = head + `
observability:
  metrics: { prometheus: true }
stores:
  redis: {{.store}}
upstreams:
  echo: { targets: [{ url: "{{.echo}}" }] }
routes:
  - name: limited
    match: { prefix: /limited }
    filters: [{ rate_limit: { rate: 5000/d, store: redis, on_store_failure: fail_closed } }]
    upstream: echo
  - name: open
    match: { prefix: /open }
    filters: [{ rate_limit: { rate: 1000000/d, store: redis, on_store_failure: fail_open } }]
    upstream: echo
  - name: closed
    match: { prefix: /closed }
    filters: [{ rate_limit: { rate: 1000000/d, store: redis, on_store_failure: fail_closed } }]
    upstream: echo
  - name: plan
    match: { prefix: /plan }
    filters: [{ quota: { name: "{{.quota}}", limit: 100000, period: day, key: client_ip, on_store_failure: fail_closed } }]
    upstream: echo
`

// limitedKey is the Redis key of the /limited route's global limit
// (docs/scale-out.md lists the keys), without the prefix.
const limitedKey = "{rl:limited:limited:}"

// quotaKey is the hash tag of the quota named name for 127.0.0.1.
func quotaKey(name string) string { return "{quota:" + name + ":ip=127.0.0.1}" }

// Three gateways behind a round-robin client share one limit kept in a
// Redis Cluster: over 10,000 requests they admit the limit (5000), not
// three times it, also when one of them restarts under the load. Then the master
// owning the limit's slot is killed under load: the fail_open route keeps
// admitting, the fail_closed one refuses with 503 (never waiting past its
// timeout), and once the replica is promoted every gateway decides in
// Redis again, without a restart, with the limit and the quota as they
// were before the kill.
func TestScaleOutRedisCluster(t *testing.T) {
	needBinary(t)
	c := redistopo.StartCluster(t)
	// The quota's name is chosen so that its key lives on the same master
	// as the limit's: the kill then tests both.
	master := c.MasterOf(limitedKey)
	quota := ""
	for i := range 1000 {
		if name := "plan" + strconv.Itoa(i); c.MasterOf(quotaKey(name)) == master {
			quota = name
			break
		}
	}
	if quota == "" {
		t.Fatal("no quota name hashes to the limit's master")
	}
	store := fmt.Sprintf(`{ mode: cluster, addresses: ["%s"], key_prefix: "e2e:", dial_timeout: 1s, read_timeout: 1s, write_timeout: 1s }`,
		strings.Join(c.Addrs(), `", "`))
	s := newScaleOut(t, store, quota)
	s.exactness()
	s.failover(func() {
		fence(t, master.Client(), "e2e:"+limitedKey, 1)
		master.Kill()
	})
}

// The same with a master watched by three Sentinels: a SIGKILLed master
// is replaced by a replica and every gateway follows the switch.
func TestScaleOutRedisSentinel(t *testing.T) {
	needBinary(t)
	st := redistopo.StartSentinel(t)
	store := fmt.Sprintf(`{ mode: sentinel, addresses: ["%s"], master_name: %s, key_prefix: "e2e:", dial_timeout: 1s, read_timeout: 1s, write_timeout: 1s }`,
		strings.Join(st.Addrs(), `", "`), st.MasterName)
	s := newScaleOut(t, store, "plan")
	s.exactness()
	s.failover(func() {
		// Either replica may be promoted: both must have every write.
		fence(t, st.Master.Client(), "e2e:fence", 2)
		st.Master.Kill()
	})
}

// fence makes sure the master's replicas hold every write made so far (by
// the gateways, on other connections): a write on this connection, in the
// same slot, acknowledged by n replicas, comes after all of them in the
// replication stream.
func fence(t *testing.T, c *redis.Client, key string, n int) {
	t.Helper()
	ctx := context.Background()
	if err := c.Set(ctx, key+"fence", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Do(ctx, "WAIT", n, 10000).Int(); err != nil || got < n {
		t.Fatalf("WAIT %d: %d replicas acknowledged (%v)", n, got, err)
	}
}

type scaleOut struct {
	t     *testing.T
	gws   []*gateway
	v     vars
	echo  *echoUpstream
	next  atomic.Uint64
	quota string

	// out is the gateway taken out of the rotation while it restarts, as
	// an L4 balancer's health check takes it out.
	mu  sync.RWMutex
	out *gateway
}

func newScaleOut(t *testing.T, store, quota string) *scaleOut {
	s := &scaleOut{t: t, echo: newEcho(t, "echo"), quota: quota}
	s.v = vars{"store": store, "echo": s.echo.URL, "quota": quota}
	for range 3 {
		s.gws = append(s.gws, startGateway(t, scaleOutConfig, s.v, startOptions{LogLevel: "info"}))
	}
	return s
}

// get sends GET path to the next gateway in turn: its status, a header,
// and how long it took. A transport error is status 0.
func (s *scaleOut) get(path, header string) (int, string, time.Duration) {
	s.mu.RLock()
	g := s.gws[s.next.Add(1)%uint64(len(s.gws))]
	if g == s.out {
		g = s.gws[s.next.Add(1)%uint64(len(s.gws))]
	}
	s.mu.RUnlock()
	return getVia(g, path, header)
}

func getVia(g *gateway, path, header string) (int, string, time.Duration) {
	start := time.Now()
	resp, err := g.Client.Get(g.URL(path))
	if err != nil {
		return 0, err.Error(), time.Since(start)
	}
	defer resp.Body.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := resp.Body.Read(buf); err != nil {
			break
		}
	}
	return resp.StatusCode, resp.Header.Get(header), time.Since(start)
}

// exactness sends 10,000 requests for the shared limit of 5000, eight at
// a time, restarting the second gateway under the load: after 2000
// requests it leaves the rotation, gets SIGTERM (it drains what it has in
// flight) and a new process takes its place for the second half.
func (s *scaleOut) exactness() {
	t := s.t
	var admitted, limited, refused atomic.Int64
	var other sync.Map
	send := func(n int) {
		var wg sync.WaitGroup
		var left atomic.Int64
		left.Store(int64(n))
		for range 8 {
			wg.Go(func() {
				for left.Add(-1) >= 0 {
					st, _, _ := s.get("/limited", "")
					for st == 0 { // the restarting gateway's connection closed: the balancer's client tries the next
						refused.Add(1)
						st, _, _ = s.get("/limited", "")
					}
					switch st {
					case 200:
						admitted.Add(1)
					case 429:
						limited.Add(1)
					default:
						other.Store(st, true)
					}
				}
			})
		}
		wg.Wait()
	}
	before := s.echo.hits.Load()
	firstHalf := make(chan struct{})
	go func() { send(5000); close(firstHalf) }()
	if err := poll(60*time.Second, func() error {
		if n := admitted.Load() + limited.Load(); n < 2000 {
			return fmt.Errorf("%d requests answered", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	old := s.gws[1]
	s.mu.Lock()
	s.out = old
	s.mu.Unlock()
	old.Signal(syscall.SIGTERM)
	if code := old.Wait(30 * time.Second); code != 0 {
		t.Fatalf("gateway 2 exited %d on SIGTERM", code)
	}
	restarted := startGateway(t, scaleOutConfig, s.v, startOptions{LogLevel: "info"})
	s.mu.Lock()
	s.gws[1], s.out = restarted, nil
	s.mu.Unlock()
	<-firstHalf
	send(5000)
	other.Range(func(k, _ any) bool { t.Errorf("a request was answered %v, want only 200 and 429", k); return true })
	const limit = 5000
	if a := admitted.Load(); a < limit*99/100 || a > limit*101/100 {
		t.Fatalf("three gateways admitted %d of 10,000 requests (%d limited), want %d ±1%%", a, limited.Load(), limit)
	}
	// A connection the restarting gateway closed under a request whose
	// answer was lost may still have reached the upstream.
	if hits := s.echo.hits.Load() - before; hits < admitted.Load() || hits > admitted.Load()+refused.Load() {
		t.Errorf("the upstream got %d requests, the gateways admitted %d (%d connections lost to the restart)", hits, admitted.Load(), refused.Load())
	}
	t.Logf("admitted %d of 10,000 against a shared limit of %d (%d limited; %d connections lost to the restart and retried)", admitted.Load(), limit, limited.Load(), refused.Load())
}

type outcome struct {
	path    string
	status  int
	latency time.Duration
}

var quotaLeft = regexp.MustCompile(`;r=(\d+)`)

// failover spends some of the quota, kills the master (kill replicates
// first) under a steady load on the fail_open and fail_closed routes, and
// waits for the gateways to decide in Redis again.
func (s *scaleOut) failover(kill func()) {
	t := s.t
	remaining := func() int {
		t.Helper()
		st, h, _ := s.get("/plan", "RateLimit")
		m := quotaLeft.FindStringSubmatch(h)
		if st != 200 || m == nil {
			t.Fatalf("/plan: %d RateLimit %q, want 200 with what is left", st, h)
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	for range 9 {
		remaining()
	}
	if r := remaining(); r != 100000-10 {
		t.Fatalf("after 10 requests the quota has %d left, want %d", r, 100000-10)
	}

	stop := make(chan struct{})
	var mu sync.Mutex
	var seen []outcome
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				path := [2]string{"/open", "/closed"}[i%2]
				st, _, lat := s.get(path, "")
				mu.Lock()
				seen = append(seen, outcome{path, st, lat})
				mu.Unlock()
			}
		})
	}
	kill()
	killed := time.Now()
	// Back on Redis: on every gateway, the exhausted limit refuses (429:
	// decided by Redis, from the state replicated before the kill) and the
	// fail_closed route admits.
	err := poll(30*time.Second, func() error {
		for i, g := range s.gws {
			if st, _, _ := getVia(g, "/limited", ""); st != 429 {
				return fmt.Errorf("gateway %d: /limited answered %d, want 429 from Redis", i+1, st)
			}
			if st, _, _ := getVia(g, "/closed", ""); st != 200 {
				return fmt.Errorf("gateway %d: /closed answered %d, want 200 from Redis", i+1, st)
			}
		}
		return nil
	})
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("the gateways did not return to Redis after the failover: %v", err)
	}
	t.Logf("back on Redis %v after the kill", time.Since(killed).Round(100*time.Millisecond))

	var open, closed, refused int
	var slowest time.Duration
	for _, o := range seen {
		slowest = max(slowest, o.latency)
		switch {
		case o.path == "/open" && o.status == 200:
			open++
		case o.path == "/closed" && o.status == 200:
			closed++
		case o.path == "/closed" && o.status == 503:
			refused++
		default:
			t.Errorf("%s answered %d during the failover, want 200 (fail_open) or 200/503 (fail_closed)", o.path, o.status)
		}
	}
	t.Logf("during the failover: /open 200 ×%d; /closed 200 ×%d, 503 ×%d; slowest %v", open, closed, refused, slowest)
	if refused == 0 {
		t.Error("no fail_closed refusal during the failover: the outage was not seen")
	}
	// A decision is bounded by read+write timeouts (2s); the rest is a
	// loaded machine's scheduling.
	if slowest > 6*time.Second {
		t.Errorf("a request took %v during the failover, want the decision bounded by the 2s timeout", slowest)
	}
	if r := remaining(); r != 100000-11 {
		t.Errorf("after the failover the quota has %d left, want %d: the count was lost", r, 100000-11)
	}

	// Each gateway logged each transition once, and counted it.
	var decisions float64
	for i, g := range s.gws {
		m := metrics(t, g)
		down, up := m[`wasmgate_redis_transitions_total{to="down"}`], m[`wasmgate_redis_transitions_total{to="up"}`]
		if down < 1 || up != down {
			t.Errorf("gateway %d: transitions down %v up %v, want as many ups as downs, at least one", i+1, down, up)
		}
		logged := float64(strings.Count(g.Stderr.String(), "redis store unreachable"))
		back := float64(strings.Count(g.Stderr.String(), "redis store reachable again"))
		if logged != down || back != up {
			t.Errorf("gateway %d logged %v outages and %v recoveries for %v and %v transitions: want one line each", i+1, logged, back, down, up)
		}
		decisions += m[`wasmgate_redis_failover_decisions_total{outcome="refused",policy="fail_closed"}`]
	}
	if decisions < float64(refused) {
		t.Errorf("%v fail_closed decisions counted, %d refusals seen", decisions, refused)
	}
}

var sample = regexp.MustCompile(`(?m)^(wasmgate_redis_\w+)\{([^}]*)\} (\S+)$`)
var label = regexp.MustCompile(`(\w+)="([^"]*)"`)

// metrics reads the gateway's wasmgate_redis_* series, keyed by name and
// their to/policy/outcome labels in order.
func metrics(t *testing.T, g *gateway) map[string]float64 {
	t.Helper()
	resp, body := g.AdminDo(newRequest(t, http.MethodGet, g.AdminURL("/metrics"), nil))
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	m := map[string]float64{}
	for _, s := range sample.FindAllStringSubmatch(string(body), -1) {
		var keep []string
		for _, l := range label.FindAllStringSubmatch(s[2], -1) {
			if l[1] == "to" || l[1] == "policy" || l[1] == "outcome" {
				keep = append(keep, l[0])
			}
		}
		v, _ := strconv.ParseFloat(s[3], 64)
		m[s[1]+"{"+strings.Join(keep, ",")+"}"] += v
	}
	return m
}

const redisTLSConfig = head + `
stores:
  redis: {{.store}}
upstreams:
  echo: { targets: [{ url: "{{.echo}}" }] }
routes:
  - name: tls
    match: { prefix: /tls }
    filters: [{ rate_limit: { rate: 2/d, store: redis, on_store_failure: fail_closed } }]
    upstream: echo
`

// A limit kept in a Redis that speaks only TLS and requires a client
// certificate: with the CA, the certificate and the server name the
// gateway decides in Redis (200, 200, then 429); without the client
// certificate Redis refuses the handshake, and the fail_closed limit
// answers 503.
func TestRedisTLS(t *testing.T) {
	needBinary(t)
	s := redistopo.StartTLS(t)
	echo := newEcho(t, "echo")
	withCert := fmt.Sprintf(`{ address: "%s", key_prefix: "e2e-tls:", read_timeout: 1s, write_timeout: 1s, dial_timeout: 1s, tls: { ca: "%s", cert: "%s", key: "%s", server_name: %s } }`,
		s.Addr, s.CA, s.ClientCert, s.ClientKey, s.ServerName)
	g := startGateway(t, redisTLSConfig, vars{"store": withCert, "echo": echo.URL})
	for i, want := range []int{200, 200, 429} {
		if st, h, _ := getVia(g, "/tls", "RateLimit"); st != want {
			t.Fatalf("request %d over TLS: %d (RateLimit %q), want %d", i+1, st, h, want)
		}
	}
	if n, err := s.Client().Keys(context.Background(), "e2e-tls:*").Result(); err != nil || len(n) != 1 {
		t.Errorf("keys in the TLS Redis: %v %v, want the limit's one", n, err)
	}

	noCert := fmt.Sprintf(`{ address: "%s", key_prefix: "e2e-tls2:", read_timeout: 1s, write_timeout: 1s, dial_timeout: 1s, tls: { ca: "%s", server_name: %s } }`,
		s.Addr, s.CA, s.ServerName)
	g2 := startGateway(t, redisTLSConfig, vars{"store": noCert, "echo": echo.URL})
	if st, _, _ := getVia(g2, "/tls", ""); st != 503 {
		t.Errorf("without a client certificate: %d, want 503 (Redis refuses the handshake; the limit fails closed)", st)
	}
}
