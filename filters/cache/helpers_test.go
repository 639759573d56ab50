package cache

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/internal/gwtest"
)

// fakeClock is the cache's clock in these tests: whole seconds from a
// fixed base, moved by the test, never by sleeping. The recording upstream
// dates its responses by it, so Date, Age and freshness agree exactly.
var (
	fakeBase = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	fakeSecs atomic.Int64
)

func init() {
	clock = func() time.Time { return fakeBase.Add(time.Duration(fakeSecs.Load()) * time.Second) }
}

func advance(secs int64) { fakeSecs.Add(secs) }

// reply is what the recording upstream answers on a path.
type reply struct {
	status int
	header map[string]string
	// notModified answers 304 (with the same header, no body) when the
	// request's If-None-Match is the reply's ETag, or its If-Modified-Since
	// is its Last-Modified.
	notModified bool
	// failFrom answers 503 from the nth request on (0: never).
	failFrom int
}

// recorder is an upstream that counts, per path, the requests that reached
// it, and keeps the last one's header: the tests assert what did not reach it.
type recorder struct {
	srv     *httptest.Server
	mu      sync.Mutex
	replies map[string]reply
	hits    map[string]int
	last    map[string]http.Header
	// gate, when set for a path, holds each request there until released:
	// the barrier of the coalescing test.
	arrived chan string
	gate    map[string]chan struct{}
	big     map[string]int // path -> body size, streamed in 32KiB writes
}

func newRecorder(t *testing.T) *recorder {
	rec := &recorder{replies: map[string]reply{}, hits: map[string]int{}, last: map[string]http.Header{},
		gate: map[string]chan struct{}{}, big: map[string]int{}, arrived: make(chan string, 1024)}
	rec.srv = httptest.NewServer(http.HandlerFunc(rec.serve))
	t.Cleanup(rec.srv.Close)
	return rec
}

// hold makes requests to path wait at the upstream until the returned
// release is called (also at the end of the test, so that a failed test
// does not leave handlers blocked).
func (rec *recorder) hold(t *testing.T, path string) (release func()) {
	gate := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	rec.mu.Lock()
	rec.gate[path] = gate
	rec.mu.Unlock()
	t.Cleanup(release)
	return release
}

// recv takes one value from ch, failing the test after a bound of
// seconds: what it waits for happens at once unless the code is wrong.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("gave up waiting for %s", what)
		panic("unreachable")
	}
}

func (rec *recorder) set(path string, r reply) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.replies[path] = r
}

func (rec *recorder) count(path string) int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.hits[path]
}

func (rec *recorder) lastHeader(path string) http.Header {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.last[path]
}

func (rec *recorder) serve(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if r.URL.RawQuery != "" {
		p += "?" + r.URL.RawQuery
	}
	rec.mu.Lock()
	rec.hits[r.URL.Path]++
	n := rec.hits[r.URL.Path]
	rec.last[p] = r.Header.Clone()
	rp, ok := rec.replies[p]
	if !ok {
		rp = rec.replies[r.URL.Path]
	}
	gate := rec.gate[r.URL.Path]
	size := rec.big[r.URL.Path]
	rec.mu.Unlock()
	if gate != nil {
		rec.arrived <- p
		<-gate
	}
	h := w.Header()
	h.Set("Date", clock().Format(http.TimeFormat))
	for k, v := range rp.header {
		if secs, ok := strings.CutPrefix(v, "{now+"); ok {
			d, _ := strconv.Atoi(strings.TrimSuffix(secs, "}"))
			v = clock().Add(time.Duration(d) * time.Second).Format(http.TimeFormat)
		}
		h.Set(k, v)
	}
	if size > 0 {
		h.Set("Content-Length", strconv.Itoa(size))
		chunk := []byte(strings.Repeat("x", 32<<10))
		for size > 0 {
			k := min(size, len(chunk))
			if _, err := w.Write(chunk[:k]); err != nil {
				return
			}
			size -= k
		}
		return
	}
	if rp.failFrom > 0 && n >= rp.failFrom {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "down")
		return
	}
	if rp.notModified {
		if et := rp.header["ETag"]; et != "" && r.Header.Get("If-None-Match") == et ||
			rp.header["Last-Modified"] != "" && r.Header.Get("If-Modified-Since") == rp.header["Last-Modified"] {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	status := rp.status
	if status == 0 {
		status = 200
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, "body of "+p+" #"+strconv.Itoa(n))
	}
}

// serve starts a gateway whose routes all forward to rec through caches
// configured per route.
func serve(t *testing.T, rec *recorder, extra string) string {
	base, _ := serveAdmin(t, rec, extra)
	return base
}

// serveAdmin is serve, with the admin API's base URL.
func serveAdmin(t *testing.T, rec *recorder, extra string) (base, adminBase string) {
	t.Helper()
	cfg := `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "127.0.0.1:0" }
upstreams: { up: { targets: [{ url: "` + rec.srv.URL + `" }] } }
routes:
  - name: plain
    match: { prefix: /c/ }
    filters: [{ cache: { x_cache: true } }]
    upstream: up
  - name: ttl
    match: { prefix: /ttl/ }
    filters: [{ cache: { default_ttl: 10s } }]
    upstream: up
  - name: sorted
    match: { prefix: /sorted/ }
    filters: [{ cache: { query: sort, query_exclude: [utm_source] } }]
    upstream: up
  - name: ignored
    match: { prefix: /ignored/ }
    filters: [{ cache: { query: ignore } }]
    upstream: up
  - name: cookies
    match: { prefix: /cookies/ }
    filters: [{ cache: { store_set_cookie: true } }]
    upstream: up
  - name: small
    match: { prefix: /small/ }
    filters: [{ cache: { max_object_size: 64KiB } }]
    upstream: up
` + extra
	g, base, _ := gwtest.Serve(t, cfg)
	return base, "http://" + g.AdminAddr().String()
}

// client follows no redirect: a stored 302 is what the test looks at.
var client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

type result struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, method, url string, header map[string]string) result {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{resp.StatusCode, resp.Header, string(b)}
}
