package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/test/internal/gatewaytest"
)

const reloadV1 = head + `
upstreams:
  a: { targets: [{ url: "{{.a}}" }] }
routes:
  - name: v1
    match: { path: /v1 }
    upstream: a
`

const reloadV2 = reloadV1 + `
  - name: v2
    match: { path: /v2 }
    respond: { body: "two" }
`

// reloadBad differs from reloadV1 by one mistake: an unknown upstream.
const reloadBad = reloadV1 + `
  - name: broken
    match: { path: /broken }
    upstream: nope
`

// checkV2 asserts whether the /v2 route exists.
func checkV2(t *testing.T, g *gateway, want bool) {
	t.Helper()
	resp, body := g.Get("/v2")
	switch {
	case want && (resp.StatusCode != http.StatusOK || string(body) != "two"):
		t.Errorf("/v2: %d %q, want 200 \"two\" from the reloaded config", resp.StatusCode, body)
	case !want && resp.StatusCode != http.StatusNotFound:
		t.Errorf("/v2: %d %q, want 404 before the reload", resp.StatusCode, body)
	}
}

func TestReload(t *testing.T) {
	needBinary(t)
	a := newEcho(t, "a")
	v := vars{"a": a.URL}

	t.Run("SIGHUP", func(t *testing.T) {
		g := startGateway(t, reloadV1, v, startOptions{Symlinked: true})
		gen := g.Status().Generation
		checkV2(t, g, false)
		g.WriteConfig(reloadV2, nil)
		g.Signal(syscall.SIGHUP)
		if got := g.WaitGeneration(gen); got != gen+1 {
			t.Errorf("generation %d after one SIGHUP, want %d", got, gen+1)
		}
		checkV2(t, g, true)

		// A bad config on SIGHUP is logged and changes nothing.
		g.WriteConfig(reloadBad, nil)
		g.Signal(syscall.SIGHUP)
		if err := poll(10*time.Second, func() error {
			if !strings.Contains(g.Stderr.String(), "reload rejected") {
				return fmt.Errorf("no rejection logged")
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if got := g.Status().Generation; got != gen+1 {
			t.Errorf("generation %d after a rejected SIGHUP reload, want %d", got, gen+1)
		}
		checkV2(t, g, true)
	})

	t.Run("file watch", func(t *testing.T) {
		g := startGateway(t, reloadV1, v)
		gen := g.Status().Generation
		g.WriteConfig(reloadV2, nil)
		g.WaitGeneration(gen)
		checkV2(t, g, true)
		if !strings.Contains(g.Stderr.String(), "config file changed") {
			t.Error("reload not attributed to the file watcher in the log")
		}
	})

	t.Run("POST /reload", func(t *testing.T) {
		g := startGateway(t, reloadV1, v, startOptions{Symlinked: true})
		gen := g.Status().Generation
		g.WriteConfig(reloadV2, nil)
		code, body := g.Reload()
		if code != http.StatusOK {
			t.Fatalf("POST /reload: %d %s", code, body)
		}
		var r struct {
			Reloaded bool               `json:"reloaded"`
			Status   gatewaytest.Status `json:"status"`
		}
		if err := json.Unmarshal(body, &r); err != nil || !r.Reloaded || r.Status.Generation != gen+1 {
			t.Errorf("POST /reload body %s (%v), want reloaded with generation %d", body, err, gen+1)
		}
		checkV2(t, g, true) // the reload is done when POST /reload answers
		resp, _ := g.Do(newRequest(t, http.MethodGet, "http://"+g.Admin+"/reload", nil))
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
			t.Errorf("GET /reload: %d Allow %q, want 405 Allow POST", resp.StatusCode, resp.Header.Get("Allow"))
		}
	})

	t.Run("bad config keeps serving", func(t *testing.T) {
		g := startGateway(t, reloadV1, v, startOptions{Symlinked: true})
		gen := g.Status().Generation
		g.WriteConfig(reloadBad, nil)
		code, body := g.Reload()
		if code != http.StatusUnprocessableEntity {
			t.Fatalf("POST /reload with a bad config: %d %s, want 422", code, body)
		}
		var r struct {
			Reloaded bool   `json:"reloaded"`
			Error    string `json:"error"`
		}
		if err := json.Unmarshal(body, &r); err != nil || r.Reloaded {
			t.Fatalf("POST /reload body %s (%v)", body, err)
		}
		line := lineOf(t, string(render(t, reloadBad, g.Vars)), "upstream: nope")
		want := g.File + ":" + strconv.Itoa(line) + ":"
		if !strings.Contains(r.Error, want) || !strings.Contains(r.Error, `unknown upstream "nope"`) {
			t.Errorf("reload error %q, want it to name %s and the unknown upstream", r.Error, want)
		}
		if got := g.Status().Generation; got != gen {
			t.Errorf("generation %d after a rejected reload, want %d", got, gen)
		}
		resp, body := g.Get("/v1")
		decodeSeen(t, resp.StatusCode, body)
		resp, _ = g.Get("/broken")
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("/broken: %d, want 404 (the bad config must not be served)", resp.StatusCode)
		}
	})

	t.Run("listeners added and removed", func(t *testing.T) {
		g := startGateway(t, reloadV1, v, startOptions{Symlinked: true})
		const second = `  - { name: second, address: "127.0.0.1:0" }`
		first := `  - address: "{{.listen}}"`
		two := strings.Replace(reloadV1, first, first+"\n"+second, 1)
		onlySecond := strings.Replace(reloadV1, first, second, 1)

		g.WriteConfig(two, nil)
		if code, body := g.Reload(); code != http.StatusOK {
			t.Fatalf("reload adding a listener: %d %s", code, body)
		}
		secondAddr := g.ListenerAddr("second")
		resp, body := g.Do(newRequest(t, http.MethodGet, "http://"+secondAddr+"/v1", nil))
		decodeSeen(t, resp.StatusCode, body)
		if l := g.Status().Listeners; len(l) != 2 {
			t.Errorf("status lists listeners %v, want 2", l)
		}

		g.WriteConfig(onlySecond, nil)
		if code, body := g.Reload(); code != http.StatusOK {
			t.Fatalf("reload removing a listener: %d %s", code, body)
		}
		if conn, err := net.DialTimeout("tcp", g.Listen, 2*time.Second); err == nil {
			conn.Close()
			t.Errorf("removed listener %s still accepts connections", g.Listen)
		}
		if now := g.ListenerAddr("second"); now != secondAddr {
			t.Errorf("the kept listener moved from %s to %s: its socket must survive the reload", secondAddr, now)
		}
		resp, body = g.Do(newRequest(t, http.MethodGet, "http://"+secondAddr+"/v1", nil))
		decodeSeen(t, resp.StatusCode, body)
	})
}

// lineOf is the 1-based line of the first line of text containing s.
func lineOf(t *testing.T, text, s string) int {
	t.Helper()
	for i, line := range strings.Split(text, "\n") {
		if strings.Contains(line, s) {
			return i + 1
		}
	}
	t.Fatalf("%q not in config", s)
	return 0
}

// reloadTraffic: two valid configs that differ in every answer they give.
const reloadTraffic = head + `
upstreams:
  a: { targets: [{ url: "{{.a}}" }] }
routes:
  - name: proxied
    match: { path: /r }
    filters:
      - headers: { response: { set: { X-Config: "{{.which}}" } } }
    upstream: a
  - name: local
    match: { path: /local }
    respond: { headers: { X-Config: "{{.which}}" }, body: "{{.which}}" }
`

func TestReloadUnderTraffic(t *testing.T) {
	needBinary(t)
	a := newEcho(t, "a")
	g := startGateway(t, reloadTraffic, vars{"a": a.URL, "which": "A"}, startOptions{Symlinked: true})

	var (
		stop     atomic.Bool
		total    atomic.Int64 // requests started
		done     atomic.Int64 // requests finished, well or not
		seenA    atomic.Int64
		seenB    atomic.Int64
		mu       sync.Mutex
		failures []string
		wg       sync.WaitGroup
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{DisableKeepAlives: w%2 == 1}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			for i := 0; !stop.Load(); i++ {
				var req *http.Request
				body := fmt.Sprintf("worker %d request %d", w, i)
				switch i % 3 {
				case 0:
					req, _ = http.NewRequest(http.MethodGet, g.URL("/r"), nil)
				case 1:
					req, _ = http.NewRequest(http.MethodPost, g.URL("/r"), strings.NewReader(body))
				default:
					req, _ = http.NewRequest(http.MethodGet, g.URL("/local"), nil)
				}
				total.Add(1)
				resp, err := c.Do(req)
				done.Add(1)
				if err != nil {
					fail("%s %s (keep-alive %v): %v", req.Method, req.URL.Path, w%2 == 0, err)
					continue
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				which := resp.Header.Get("X-Config")
				switch {
				case err != nil:
					fail("%s %s: reading body: %v", req.Method, req.URL.Path, err)
				case resp.StatusCode != http.StatusOK:
					fail("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, got)
				case which != "A" && which != "B":
					fail("%s %s: X-Config %q, from neither config", req.Method, req.URL.Path, which)
				case i%3 == 2 && string(got) != which:
					fail("/local: body %q with X-Config %q: a response mixing two configs", got, which)
				case i%3 == 1 && !strings.Contains(string(got), `"body":"`+body+`"`):
					fail("POST /r: upstream did not get the body %q: %s", body, got)
				case which == "A":
					seenA.Add(1)
				default:
					seenB.Add(1)
				}
			}
		}()
	}

	gen := g.Status().Generation
	for i := range 20 {
		which := "B"
		if i%2 == 1 {
			which = "A"
		}
		g.WriteConfig(reloadTraffic, vars{"which": which})
		if code, body := g.Reload(); code != http.StatusOK {
			t.Errorf("reload %d: %d %s", i, code, body)
		}
		// Let traffic run on every generation, not only between a few.
		next := done.Load() + 8
		if err := poll(10*time.Second, func() error {
			if done.Load() < next {
				return fmt.Errorf("only %d requests finished", done.Load())
			}
			return nil
		}); err != nil {
			t.Fatalf("traffic stalled after reload %d: %v", i, err)
		}
	}
	stop.Store(true)
	wg.Wait()

	if got := g.Status().Generation; got != gen+20 {
		t.Errorf("generation %d after 20 reloads, want %d", got, gen+20)
	}
	for _, f := range failures {
		t.Error(f)
	}
	t.Logf("%d requests: %d answered by config A, %d by B", total.Load(), seenA.Load(), seenB.Load())
	if seenA.Load() == 0 || seenB.Load() == 0 {
		t.Errorf("traffic saw A %d times and B %d times; both configs should have served", seenA.Load(), seenB.Load())
	}
}
