package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Go-SDK guests through the real binary, none with `bodies:`: the host
// streams bodies to the modules that export the body callbacks, edits follow
// Envoy's Buffer::copyFrom, and a paused request waits for a tick to resume it.
const wasmBodyConfig = head + `
upstreams:
  echo: { targets: [{ url: "{{.echo}}" }] }
plugins:
  http-body: { source: "{{.body}}" }
  json-validate:
    source: "{{.json}}"
    config: { schema: { type: object, required: [name], properties: { name: { type: string, minLength: 1 } } } }
  pause-tick: { source: "{{.pause}}", config: { period: 10 } }
  pause-hold: { source: "{{.pause}}", config: { period: 3600000 }, limits: { hold: 100ms } }
observability: { metrics: { prometheus: true } }
routes:
  - { name: body, match: { prefix: /body }, filters: [{ wasm: http-body }], upstream: echo }
  - { name: json, match: { prefix: /json }, filters: [{ wasm: json-validate }], upstream: echo }
  - { name: pause, match: { prefix: /pause }, filters: [{ wasm: pause-tick }], upstream: echo }
  - { name: hold, match: { prefix: /hold }, filters: [{ wasm: pause-hold }], upstream: echo }
`

// bodyEcho answers "echo:" and the body it got, and records each body and
// the x-resumed-by header it saw.
type bodyEcho struct {
	*httptest.Server
	mu      sync.Mutex
	bodies  []string
	resumed []string
}

func newBodyEcho(t *testing.T) *bodyEcho {
	e := &bodyEcho{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return // aborted by the gateway: nothing recorded
		}
		e.mu.Lock()
		e.bodies = append(e.bodies, string(b))
		e.resumed = append(e.resumed, r.Header.Get("X-Resumed-By"))
		e.mu.Unlock()
		fmt.Fprintf(w, "echo:%s", b)
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *bodyEcho) seen() (bodies, resumed []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.bodies...), append([]string(nil), e.resumed...)
}

func startWasmBody(t *testing.T) (*gateway, *bodyEcho) {
	t.Helper()
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	echo := newBodyEcho(t)
	g := startGateway(t, wasmBodyConfig, vars{
		"echo":  echo.URL,
		"body":  abs("../../examples/go-sdk/http-body/http-body.wasm"),
		"json":  abs("../../plugins/json-validate/json-validate.wasm"),
		"pause": abs("../../examples/go-sdk/pause-tick/pause-tick.wasm"),
	})
	return g, echo
}

func TestWasmGoGuestBodies(t *testing.T) {
	needBinary(t)
	g, echo := startWasmBody(t)

	t.Run("edits", func(t *testing.T) {
		for _, c := range []struct{ op, up, client string }{
			{"append", "hello[x]", "echo:hello[x][x]"},
			{"prepend", "[x]hello", "[x]echo:[x]hello"},
			{"replace", "[x]", "[x]"},
		} {
			req := newRequest(t, "POST", g.URL("/body"), strings.NewReader("hello"))
			req.Header.Set("Buffer-Operation", c.op)
			req.Header.Set("Buffer-Data", "[x]")
			resp, body := g.Do(req)
			if resp.StatusCode != 200 || string(body) != c.client {
				t.Errorf("%s: client got %d %q, want %q", c.op, resp.StatusCode, body, c.client)
			}
			bodies, _ := echo.seen()
			if got := bodies[len(bodies)-1]; got != c.up {
				t.Errorf("%s: upstream got %q, want %q", c.op, got, c.up)
			}
		}
	})

	t.Run("json-validate without bodies:", func(t *testing.T) {
		before, _ := echo.seen()
		for _, c := range []struct {
			body   string
			status int
		}{
			{`{"name": "ada"}`, 200},
			{`{"name": ""}`, 400},
			{`{"name": 42}`, 400},
			{`not json`, 400},
			{`{}`, 400},
		} {
			req := newRequest(t, "POST", g.URL("/json"), strings.NewReader(c.body))
			req.Header.Set("Content-Type", "application/json")
			resp, body := g.Do(req)
			if resp.StatusCode != c.status {
				t.Errorf("%s: status %d, want %d (%s)", c.body, resp.StatusCode, c.status, body)
			}
			if c.status == 400 && !strings.Contains(string(body), `"error"`) {
				t.Errorf("%s: body %s, want the reason", c.body, body)
			}
		}
		after, _ := echo.seen()
		if got := after[len(before):]; len(got) != 1 || got[0] != `{"name": "ada"}` {
			t.Errorf("upstream got %q, want only the valid payload", got)
		}
	})

	t.Run("pause resumed from a tick", func(t *testing.T) {
		before, _ := echo.seen()
		var wg sync.WaitGroup
		for range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := g.Client.Get(g.URL("/pause"))
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("status %d", resp.StatusCode)
				}
			}()
		}
		wg.Wait()
		_, resumed := echo.seen()
		got := resumed[len(before):]
		if len(got) != 5 {
			t.Fatalf("upstream got %d requests, want 5", len(got))
		}
		for _, r := range got {
			if r != "tick" {
				t.Errorf("x-resumed-by %q: the request went on without the tick", r)
			}
		}
	})

	t.Run("hold timeout", func(t *testing.T) {
		// No tick comes within limits.hold: the failure policy (fail_closed)
		// answers, and the metric counts it.
		resp, body := g.Get("/hold")
		if resp.StatusCode != 503 {
			t.Fatalf("status %d (%s), want 503", resp.StatusCode, body)
		}
		_, metrics := g.AdminDo(newRequest(t, "GET", g.AdminURL("/metrics"), nil))
		want := `wasmgate_wasm_hold_timeouts_total{plugin="pause-hold"} 1`
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics has no %s:\n%s", want, grepLines(string(metrics), "hold"))
		}
	})
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
