package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const trafficConfig = head + `
observability: { metrics: { prometheus: true } }
upstreams:
  echo: { targets: [{ url: "{{.echo}}" }] }
  slow: { targets: [{ url: "{{.slow}}" }] }
  sink: { targets: [{ url: "{{.sink}}" }] }
routes:
  - name: cors
    match: { prefix: /cors }
    filters:
      - cors:
          allow_origins: ["https://app.example.com"]
          allow_methods: [GET, PUT]
          allow_headers: [Content-Type, X-Trace]
          expose_headers: [X-Upstream]
          max_age: 10m
    upstream: echo
  - name: deny-loopback
    match: { prefix: /deny }
    filters: [{ ip_filter: { deny: ["127.0.0.0/8"] } }]
    upstream: echo
  - name: allow-office
    match: { prefix: /office }
    filters: [{ ip_filter: { allow: ["10.0.0.0/8"] } }]
    upstream: echo
  - name: allow-loopback
    match: { prefix: /loopback }
    filters: [{ ip_filter: { allow: ["127.0.0.1"] } }]
    upstream: echo
  - name: limited
    match: { prefix: /limited }
    filters: [{ rate_limit: { rate: 3/h, key: client_ip } }]
    upstream: echo
  - name: slots
    match: { prefix: /slots }
    filters: [{ concurrency: { max: 2 } }]
    upstream: slow
  - name: upload
    match: { prefix: /upload }
    filters: [{ body_limit: { max: 64KiB } }]
    upstream: sink
`

// blockingUpstream holds every request until release, announcing each
// arrival.
type blockingUpstream struct {
	*httptest.Server
	arrived chan struct{}
	release chan struct{}
	once    sync.Once
}

func newBlockingUpstream(t *testing.T) *blockingUpstream {
	t.Helper()
	u := &blockingUpstream{arrived: make(chan struct{}, 64), release: make(chan struct{})}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.arrived <- struct{}{}
		<-u.release
		_, _ = w.Write([]byte("released"))
	}))
	t.Cleanup(u.Close)
	t.Cleanup(u.open) // before Close, which waits for the handlers
	return u
}

func (u *blockingUpstream) open() { u.once.Do(func() { close(u.release) }) }

// sinkUpstream reads request bodies and records, per request, how many
// bytes it got and whether the body ended cleanly.
type sinkUpstream struct {
	*httptest.Server
	mu      sync.Mutex
	started int
	reads   []sinkRead
}

type sinkRead struct {
	n        int64
	complete bool
}

func newSinkUpstream(t *testing.T) *sinkUpstream {
	t.Helper()
	u := &sinkUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.started++
		u.mu.Unlock()
		n, err := io.Copy(io.Discard, r.Body)
		u.mu.Lock()
		u.reads = append(u.reads, sinkRead{n, err == nil})
		u.mu.Unlock()
		fmt.Fprintf(w, "read %d", n)
	}))
	t.Cleanup(u.Close)
	return u
}

// settled waits until every request the sink started reading has ended,
// and returns what it read.
func (u *sinkUpstream) settled(t *testing.T) []sinkRead {
	t.Helper()
	var out []sinkRead
	if err := poll(10*time.Second, func() error {
		u.mu.Lock()
		defer u.mu.Unlock()
		if len(u.reads) != u.started {
			return fmt.Errorf("%d bodies still being read", u.started-len(u.reads))
		}
		out = append([]sinkRead(nil), u.reads...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// cors, ip_filter, rate_limit (local), concurrency and body_limit through
// the real binary, one gateway for all; each refusal is checked to have
// never reached the upstream.
func TestTrafficFilters(t *testing.T) {
	needBinary(t)
	echo := newEcho(t, "echo")
	slow := newBlockingUpstream(t)
	sink := newSinkUpstream(t)
	g := startGateway(t, trafficConfig, vars{"echo": echo.URL, "slow": slow.URL, "sink": sink.URL})
	do := func(method, path string, hdr ...string) (*http.Response, []byte) {
		t.Helper()
		req := newRequest(t, method, g.URL(path), nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Add(hdr[i], hdr[i+1])
		}
		return g.Do(req)
	}
	// hitsStay runs f and asserts the echo upstream got nothing from it.
	hitsStay := func(what string, f func()) {
		t.Helper()
		before := echo.hits.Load()
		f()
		if n := echo.hits.Load() - before; n != 0 {
			t.Errorf("%s: %d requests reached the upstream, want none", what, n)
		}
	}

	t.Run("cors", func(t *testing.T) {
		hitsStay("preflights", func() {
			resp, body := do(http.MethodOptions, "/cors/items", "Origin", "https://app.example.com",
				"Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", "x-trace")
			h := resp.Header
			if resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
				!strings.Contains(h.Get("Access-Control-Allow-Methods"), "PUT") ||
				!strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "x-trace") ||
				h.Get("Access-Control-Max-Age") != "600" {
				t.Errorf("allowed preflight: %d %v %q, want 204 allowing PUT and X-Trace for 600s", resp.StatusCode, h, body)
			}
			resp, body = do(http.MethodOptions, "/cors/items", "Origin", "https://evil.example.net",
				"Access-Control-Request-Method", "PUT")
			checkError(t, resp.StatusCode, resp.Header, body, http.StatusForbidden)
			if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
				t.Errorf("refused preflight carries Access-Control-Allow-Origin %q", v)
			}
		})
		resp, _ := do(http.MethodGet, "/cors/items", "Origin", "https://app.example.com")
		if resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
			!strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "X-Upstream") ||
			!strings.Contains(resp.Header.Get("Vary"), "Origin") {
			t.Errorf("allowed origin GET: headers %v, want ACAO, Expose-Headers X-Upstream and Vary: Origin", resp.Header)
		}
		resp, _ = do(http.MethodGet, "/cors/items", "Origin", "https://evil.example.net")
		if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("other origin GET: %d ACAO %q, want the upstream's 200 without CORS headers", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	})

	t.Run("ip_filter", func(t *testing.T) {
		hitsStay("denied addresses", func() {
			resp, body := do(http.MethodGet, "/deny/x")
			checkError(t, resp.StatusCode, resp.Header, body, http.StatusForbidden)
			// The listener trusts no proxy: a forwarded address is not the client's.
			resp, body = do(http.MethodGet, "/office/x", "X-Forwarded-For", "10.1.2.3")
			checkError(t, resp.StatusCode, resp.Header, body, http.StatusForbidden)
		})
		resp, body := do(http.MethodGet, "/loopback/x")
		decodeSeen(t, resp.StatusCode, body)
	})

	t.Run("rate_limit local", func(t *testing.T) {
		before := echo.hits.Load()
		for i := range 3 {
			resp, body := do(http.MethodGet, "/limited/x")
			decodeSeen(t, resp.StatusCode, body)
			if p, want := resp.Header.Get("RateLimit-Policy"), `"limited";q=3;w=3600`; p != want {
				t.Errorf("RateLimit-Policy %q, want %q", p, want)
			}
			if r, want := resp.Header.Get("RateLimit"), fmt.Sprintf(`"limited";r=%d;`, 2-i); !strings.HasPrefix(r, want) {
				t.Errorf("request %d: RateLimit %q, want %s…", i+1, r, want)
			}
		}
		resp, body := do(http.MethodGet, "/limited/x")
		checkError(t, resp.StatusCode, resp.Header, body, http.StatusTooManyRequests)
		var e struct {
			Policy     string `json:"policy"`
			RetryAfter int    `json:"retry_after"`
		}
		_ = json.Unmarshal(body, &e)
		if e.Policy != "limited" || e.RetryAfter < 1 || resp.Header.Get("Retry-After") == "" ||
			!strings.HasPrefix(resp.Header.Get("RateLimit"), `"limited";r=0;`) {
			t.Errorf("429: %s, Retry-After %q, RateLimit %q", body, resp.Header.Get("Retry-After"), resp.Header.Get("RateLimit"))
		}
		if n := echo.hits.Load() - before; n != 3 {
			t.Errorf("the upstream got %d requests, want the 3 admitted", n)
		}
	})

	t.Run("concurrency", func(t *testing.T) {
		results := make(chan string, 2)
		for range 2 {
			go func() {
				resp, err := http.Get(g.URL("/slots/held"))
				if err != nil {
					results <- err.Error()
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				results <- fmt.Sprintf("%d %s", resp.StatusCode, b)
			}()
		}
		for range 2 {
			select {
			case <-slow.arrived: // both slots are taken, held at the upstream
			case <-time.After(30 * time.Second):
				t.Fatal("the held requests did not reach the upstream")
			}
		}
		resp, body := do(http.MethodGet, "/slots/third")
		checkError(t, resp.StatusCode, resp.Header, body, http.StatusTooManyRequests)
		if resp.Header.Get("Retry-After") != "1" || !strings.Contains(resp.Header.Get("RateLimit-Policy"), "q=2") ||
			!strings.HasPrefix(resp.Header.Get("RateLimit"), `"slots";r=0`) {
			t.Errorf("over the cap: Retry-After %q, RateLimit-Policy %q, RateLimit %q", resp.Header.Get("Retry-After"),
				resp.Header.Get("RateLimit-Policy"), resp.Header.Get("RateLimit"))
		}
		select {
		case <-slow.arrived:
			t.Error("the refused request reached the upstream")
		default:
		}
		slow.open()
		for range 2 {
			if r := <-results; r != "200 released" {
				t.Errorf("held request: %s, want 200 released", r)
			}
		}
		// The slots were given back when the exchanges ended.
		if resp, body := do(http.MethodGet, "/slots/after"); resp.StatusCode != 200 {
			t.Errorf("after the release: %d %s, want 200", resp.StatusCode, body)
		}
	})

	t.Run("body_limit", func(t *testing.T) {
		// A declared length over the cap is refused before anything is sent.
		req := newRequest(t, http.MethodPost, g.URL("/upload/declared"), strings.NewReader(strings.Repeat("x", 65*1024)))
		resp, body := g.Do(req)
		checkError(t, resp.StatusCode, resp.Header, body, http.StatusRequestEntityTooLarge)

		// A chunked body is cut off while it streams: 128 KiB are written
		// and the body is left open; the 413 must come before it ends.
		// (net/http reads up to 256 KiB of a body the handler left unread,
		// looking for its end, before it writes the answer, unless the
		// answer closes the connection.)
		pr, pw := io.Pipe()
		req = newRequest(t, http.MethodPost, g.URL("/upload/streamed"), pr)
		answered := make(chan *http.Response, 1)
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		go func() {
			resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Do(req)
			if err != nil {
				t.Errorf("streamed upload: %v", err)
				resp = nil
			}
			answered <- resp
		}()
		go func() {
			chunk := []byte(strings.Repeat("y", 16*1024))
			for written := 0; written < 128*1024; written += len(chunk) {
				if _, err := pw.Write(chunk); err != nil {
					return // the body was abandoned: the cap was hit
				}
			}
		}()
		var streamed *http.Response
		select {
		case streamed = <-answered:
		case <-time.After(30 * time.Second):
			t.Fatal("no answer while the body was still open")
		}
		pw.CloseWithError(io.ErrUnexpectedEOF)
		if streamed != nil {
			b, _ := io.ReadAll(streamed.Body)
			streamed.Body.Close()
			checkError(t, streamed.StatusCode, streamed.Header, b, http.StatusRequestEntityTooLarge)
		}
		for _, r := range sink.settled(t) {
			if r.complete || r.n > 64*1024 {
				t.Errorf("the upstream read %d bytes (complete: %v); want at most the 64 KiB cap and never a whole body", r.n, r.complete)
			}
		}

		// Under the cap it goes through whole.
		req = newRequest(t, http.MethodPost, g.URL("/upload/small"), io.MultiReader(strings.NewReader(strings.Repeat("z", 1000))))
		resp, body = g.Do(req)
		if resp.StatusCode != 200 || string(body) != "read 1000" {
			t.Errorf("small upload: %d %q, want the upstream to read all 1000 bytes", resp.StatusCode, body)
		}
	})
}
