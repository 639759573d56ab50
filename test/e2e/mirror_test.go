package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const mirrorConfig = head + `
observability: { metrics: { prometheus: true } }
upstreams:
  main:   { targets: [{ url: "{{.main}}" }] }
  hang:   { targets: [{ url: "{{.hang}}" }] }
  record: { targets: [{ url: "{{.record}}" }] }
routes:
  - name: hanging
    match: { prefix: /hang }
    upstream: main
    mirror: { upstream: hang, max_in_flight: 4, timeout: 60s }
  - name: recorded
    match: { prefix: /rec }
    upstream: main
    mirror: { upstream: record, percent: 10 }
  - name: capped
    match: { prefix: /big }
    upstream: main
    mirror: { upstream: record, max_body: 1KiB }
`

type mirrored struct{ method, path, host, body string }

// TestMirror runs mirrored routes through the binary: a shadow that never
// answers changes nothing for clients (every request completes; copies
// past max_in_flight are dropped and counted), copies reach a recording
// shadow with the request's method, path and body and a -shadow Host, the
// percent is kept exactly (a counter, not a coin), and a body over
// max_body is not mirrored but reaches the primary whole.
func TestMirror(t *testing.T) {
	needBinary(t)
	main := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "main %d", len(b))
	}))
	t.Cleanup(main.Close)
	var hangArrived atomic.Int64
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hangArrived.Add(1)
		select { // forever, as far as the gateway can tell
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) }) // runs before hang.Close
	copies := make(chan mirrored, 200)
	record := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		copies <- mirrored{r.Method, r.URL.Path, r.Host, string(b)}
		w.WriteHeader(503) // a failing shadow: counted, never seen
	}))
	t.Cleanup(record.Close)
	g := startGateway(t, mirrorConfig, vars{"main": main.URL, "hang": hang.URL, "record": record.URL})

	post := func(path, body string, chunked bool) string {
		t.Helper()
		var rd io.Reader = strings.NewReader(body)
		if chunked {
			rd = io.MultiReader(rd)
		}
		resp, got := g.Do(newRequest(t, "POST", g.URL(path), rd))
		if resp.StatusCode != 200 {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, got)
		}
		return string(got)
	}
	metric := func(route, result string) float64 {
		v, _ := g.Metric("wasmgate_route_mirror_requests_total", "route="+route, "result="+result)
		return v
	}

	t.Run("hanging shadow", func(t *testing.T) {
		const n = 50
		for i := range n {
			if got := post(fmt.Sprintf("/hang/%d", i), "x", false); got != "main 1" {
				t.Fatalf("request %d: %q", i, got)
			}
		}
		// The 4 slots are held by copies the shadow never answers; every
		// later copy is dropped, none queued.
		if err := poll(10*time.Second, func() error {
			if a := hangArrived.Load(); a != 4 {
				return fmt.Errorf("%d copies reached the hanging shadow, want 4", a)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if d := metric("hanging", "dropped"); d != n-4 {
			t.Errorf("dropped copies counted %v, want %d", d, n-4)
		}
	})

	t.Run("recorded copies", func(t *testing.T) {
		for i := 1; i <= 100; i++ {
			if got := post(fmt.Sprintf("/rec/%d", i), fmt.Sprintf("body-%d", i), i%2 == 0); !strings.HasPrefix(got, "main ") {
				t.Fatalf("request %d: %q", i, got)
			}
		}
		// 10%: requests 10, 20, ..., 100, exactly.
		seen := map[string]bool{}
		for range 10 {
			select {
			case c := <-copies:
				n := strings.TrimPrefix(c.path, "/rec/")
				if c.method != "POST" || c.body != "body-"+n || !strings.HasSuffix(strings.Split(c.host, ":")[0], "-shadow") {
					t.Errorf("copy %+v: want POST with the request's body and a -shadow host", c)
				}
				seen[n] = true
			case <-time.After(10 * time.Second):
				t.Fatalf("only %d of 10 copies arrived: %v", len(seen), seen)
			}
		}
		for i := 10; i <= 100; i += 10 {
			if !seen[fmt.Sprint(i)] {
				t.Errorf("request %d was not mirrored; mirrored: %v", i, seen)
			}
		}
		if err := poll(10*time.Second, func() error {
			if f := metric("recorded", "failed"); f != 10 {
				return fmt.Errorf("failed copies (the shadow answers 503) counted %v, want 10", f)
			}
			return nil
		}); err != nil {
			t.Error(err)
		}
	})

	t.Run("body cap", func(t *testing.T) {
		big := strings.Repeat("b", 4096)
		for _, chunked := range []bool{false, true} {
			if got := post("/big/large", big, chunked); got != "main 4096" {
				t.Errorf("chunked=%v: the primary got %q, want the whole 4096 bytes", chunked, got)
			}
		}
		if got := post("/big/small", "small", true); got != "main 5" {
			t.Errorf("small body: %q", got)
		}
		select {
		case c := <-copies:
			if c.path != "/big/small" || c.body != "small" {
				t.Errorf("copy %+v, want only the small request", c)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the small request's copy never arrived")
		}
		if s := metric("capped", "skipped"); s != 2 {
			t.Errorf("skipped copies counted %v, want 2", s)
		}
	})
}
