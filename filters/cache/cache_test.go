package cache

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/gateway"
	_ "github.com/wasmgate/wasmgate/filters/apikey"
	"github.com/wasmgate/wasmgate/internal/gwtest"
)

// N concurrent misses for one key reach the upstream as one request: the
// upstream holds the first until every other is waiting, then all N get
// its response.
func TestConcurrentMissesCoalesce(t *testing.T) {
	rec := newRecorder(t)
	rec.set("/c/coalesce", reply{header: h("Cache-Control", "max-age=60")})
	release := rec.hold(t, "/c/coalesce")
	base := serve(t, rec, "")
	const n = 20
	waiting := make(chan struct{}, n)
	onWait = func() { waiting <- struct{}{} }
	defer func() { onWait = nil }()

	var wg sync.WaitGroup
	results := make([]result, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = do(t, "GET", base+"/c/coalesce", nil)
		}()
	}
	recv(t, rec.arrived, "the leader at the upstream")
	for i := range n - 1 {
		recv(t, waiting, "waiter "+strconv.Itoa(i+1))
	}
	release()
	wg.Wait()
	if got := rec.count("/c/coalesce"); got != 1 {
		t.Fatalf("the upstream saw %d requests, want 1", got)
	}
	collapsed := 0
	for i, r := range results {
		if r.status != 200 || !strings.Contains(r.body, "#1") {
			t.Errorf("request %d: %d %q", i, r.status, r.body)
		}
		if strings.Contains(r.header.Get("Cache-Status"), "collapsed") {
			collapsed++
		}
	}
	if collapsed != n-1 {
		t.Errorf("%d responses say collapsed, want %d", collapsed, n-1)
	}
}

// Waiting is bounded: past max_waiters a miss goes to the upstream itself,
// and a waiter whose leader takes too long stops waiting. The upstream lets
// nothing through until all of them arrived, so the test ends only if
// neither bound blocks.
func TestCoalescingIsBounded(t *testing.T) {
	rec := newRecorder(t)
	rec.set("/few/b", reply{header: h("Cache-Control", "max-age=60")})
	rec.set("/brief/b", reply{header: h("Cache-Control", "max-age=60")})
	releases := map[string]func(){"/few/b": rec.hold(t, "/few/b"), "/brief/b": rec.hold(t, "/brief/b")}
	base := serve(t, rec, `
  - name: few
    match: { prefix: /few/ }
    filters: [{ cache: { coalesce: { max_waiters: 2 } } }]
    upstream: up
  - name: brief
    match: { prefix: /brief/ }
    filters: [{ cache: { coalesce: { timeout: 20ms } } }]
    upstream: up
`)
	for _, c := range []struct {
		path     string
		arrivals int
	}{{"/few/b", 3}, {"/brief/b", 5}} {
		var wg sync.WaitGroup
		for range 5 {
			wg.Add(1)
			go func() { defer wg.Done(); do(t, "GET", base+c.path, nil) }()
		}
		for range c.arrivals { // the leader, and those past the bound
			recv(t, rec.arrived, c.path+" arrivals")
		}
		releases[c.path]()
		wg.Wait()
		if got := rec.count(c.path); got < c.arrivals {
			t.Errorf("%s: the upstream saw %d requests, want at least %d", c.path, got, c.arrivals)
		}
	}
}

// A response larger than max_object_size streams to the client as it
// arrives (the upstream sends the rest only after the client read the
// first part) and is not stored; one within it is stored though its
// length was not declared.
func TestOversizedStreamsUnstored(t *testing.T) {
	var hits atomic.Int32
	firstRead := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		if r.URL.Path == "/small/chunked" {
			_, _ = io.WriteString(w, strings.Repeat("s", 1000))
			return
		}
		part := bytes.Repeat([]byte("x"), 48<<10)
		_, _ = w.Write(part)
		w.(http.Flusher).Flush()
		if r.URL.Query().Get("first") == "1" {
			<-firstRead
		}
		for range 4 {
			_, _ = w.Write(part)
		}
	}))
	defer up.Close()
	_, base, _ := gwtest.Serve(t, `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
upstreams: { up: { targets: [{ url: "`+up.URL+`" }] } }
routes:
  - name: small
    match: { prefix: /small/ }
    filters: [{ cache: { max_object_size: 64KiB } }]
    upstream: up
`)
	resp, err := http.Get(base + "/small/big?first=1")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	if _, err := io.ReadFull(br, make([]byte, 48<<10)); err != nil {
		t.Fatalf("reading the first part while the upstream holds the rest: %v", err)
	}
	close(firstRead)
	rest, err := io.ReadAll(br)
	resp.Body.Close()
	if err != nil || len(rest) != 4*48<<10 {
		t.Fatalf("rest of the body: %d bytes, %v", len(rest), err)
	}
	if cs := resp.Header.Get("Cache-Status"); strings.Contains(cs, "stored") {
		t.Errorf("Cache-Status %q says stored", cs)
	}
	for range 2 {
		r := do(t, "GET", base+"/small/big", nil)
		if len(r.body) != 5*48<<10 {
			t.Fatalf("body %d bytes", len(r.body))
		}
	}
	if got := hits.Load(); got != 3 {
		t.Errorf("the upstream saw %d requests, want 3: an oversized body is never stored", got)
	}
	do(t, "GET", base+"/small/chunked", nil)
	if r := do(t, "GET", base+"/small/chunked", nil); !strings.Contains(r.header.Get("Cache-Status"), "hit") || len(r.body) != 1000 {
		t.Errorf("a small chunked body: Cache-Status %q, %d bytes; want a hit of 1000", r.header.Get("Cache-Status"), len(r.body))
	}
}

// POST /cache/purge removes an entry (with its variants) or a prefix.
func TestPurgeThroughAdmin(t *testing.T) {
	rec := newRecorder(t)
	for _, p := range []string{"/c/p/one", "/c/p/two", "/c/q/three"} {
		rec.set(p, reply{header: h("Cache-Control", "max-age=600", "Vary", "Accept")})
	}
	base, adminBase := serveAdmin(t, rec, "")
	get := func(p, accept string) string {
		return do(t, "GET", base+p, h("Accept", accept)).header.Get("Cache-Status")
	}
	for _, p := range []string{"/c/p/one", "/c/p/two", "/c/q/three"} {
		get(p, "a")
		get(p, "b")
	}
	purge := func(body string) (int, map[string]any) {
		resp, err := http.Post(adminBase+"/cache/purge", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	host := strings.TrimPrefix(base, "http://")
	if code, out := purge(`{"route": "plain", "key": "GET ` + host + `/c/p/one"}`); code != 200 || out["purged"] != float64(3) {
		t.Errorf("purge by key: %d %v, want 3 purged (the marker and two variants)", code, out)
	}
	if cs := get("/c/p/one", "a"); !strings.Contains(cs, "uri-miss") {
		t.Errorf("after purge: %q", cs)
	}
	if cs := get("/c/p/two", "a"); !strings.Contains(cs, "hit") {
		t.Errorf("another key lost to a key purge: %q", cs)
	}
	if code, out := purge(`{"prefix": "GET ` + host + `/c/p/"}`); code != 200 || out["purged"] != float64(5) {
		t.Errorf("purge by prefix: %d %v, want 5 purged (two of /c/p/one again, three of /c/p/two)", code, out)
	}
	if cs := get("/c/p/two", "b"); !strings.Contains(cs, "uri-miss") {
		t.Errorf("after prefix purge: %q", cs)
	}
	if cs := get("/c/q/three", "b"); !strings.Contains(cs, "hit") {
		t.Errorf("a key outside the prefix was purged: %q", cs)
	}
	for body, want := range map[string]int{
		`{"key": "a", "prefix": "b"}`: 400, `{}`: 400, `{"route": "nope", "key": "x"}`: 404, `{"kee": "x"}`: 400,
	} {
		if code, out := purge(body); code != want || out["error"] == nil {
			t.Errorf("purge %s: %d %v, want %d with a reason", body, code, out, want)
		}
	}
	resp, err := http.Get(adminBase + "/cache?route=plain")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"route":"plain"`) || !strings.Contains(string(b), `"entries":`) {
		t.Errorf("GET /cache: %s", b)
	}
}

// stale-while-revalidate: the stale entry is served at once, and one
// background request (with the entry's validator) refreshes it.
func TestStaleWhileRevalidate(t *testing.T) {
	rec := newRecorder(t)
	rec.set("/c/swr", reply{header: h("Cache-Control", "max-age=10, stale-while-revalidate=60", "ETag", `"s1"`), notModified: true})
	base := serve(t, rec, "")
	advance(100_000)
	do(t, "GET", base+"/c/swr", nil)
	advance(20)
	r := do(t, "GET", base+"/c/swr", nil)
	if cs := r.header.Get("Cache-Status"); !strings.Contains(cs, "hit; ttl=-10; detail=stale-while-revalidate") || !strings.Contains(r.body, "#1") {
		t.Fatalf("stale response: Cache-Status %q body %q", cs, r.body)
	}
	// The refresh happens after the client has its answer: wait for it
	// (bounded), then the entry is fresh again.
	deadline := time.Now().Add(10 * time.Second)
	for {
		r = do(t, "GET", base+"/c/swr", nil)
		if strings.Contains(r.header.Get("Cache-Status"), "hit; ttl=10") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the entry was not refreshed in the background: %q", r.header.Get("Cache-Status"))
		}
		runtime.Gosched()
	}
	if got := rec.count("/c/swr"); got != 2 {
		t.Errorf("the upstream saw %d requests, want 2", got)
	}
	if got := rec.lastHeader("/c/swr").Get("If-None-Match"); got != `"s1"` {
		t.Errorf("background revalidation sent If-None-Match %q", got)
	}
}

func TestConfigErrors(t *testing.T) {
	for block, want := range map[string]string{
		`{store: disk}`:                            `store: "disk" is not valid; valid values: memory, redis`,
		`{query: random}`:                          `query: "random" is not valid; valid values: all, ignore, sort`,
		`{query: ignore, query_include: [a]}`:      `query: query: ignore leaves no parameter`,
		`{query_include: [a], query_exclude: [b]}`: `query_exclude: set query_include or query_exclude, not both`,
		`{max_size: 1MiB, max_object_size: 1MiB}`:  `max_object_size: 1048576 bytes is more than a memory store of max_size 1048576 can hold`,
		`{default_ttl: 2h, max_ttl: 1h}`:           `default_ttl: 2h0m0s is longer than max_ttl (1h0m0s)`,
		`{coalesce: {max_waiters: -2}}`:            `coalesce.max_waiters: -2 is not valid`,
		`{query_exclude: [""]}`:                    `query_exclude[0]: a parameter name cannot be empty`,
	} {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(block), &n); err != nil {
			t.Fatal(err)
		}
		c := new(Config)
		err := config.Decode("", &n, "cache", c)
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", block, err, want)
		}
	}
	c := new(Config)
	var n yaml.Node
	_ = yaml.Unmarshal([]byte(`{store: redis}`), &n)
	_ = config.Decode("", &n, "cache", c)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("", []byte(`listeners: [{address: "127.0.0.1:0"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Build(&filter.BuildContext{Route: "r", Config: cfg}); err == nil || !strings.Contains(err.Error(), "needs a Redis server") {
		t.Errorf("store: redis without stores.redis: %v", err)
	}
}

// A config error in a real file names the file, its line and the field.
func TestConfigErrorHasPosition(t *testing.T) {
	file := filepath.Join(t.TempDir(), "gw.yaml")
	if err := os.WriteFile(file, []byte(`listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
routes:
  - name: r
    match: { path: /x }
    filters:
      - cache:
          query: random
    respond: {}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	g, err := gateway.Start(gateway.Source{File: file}, slog.New(slog.DiscardHandler))
	if err == nil {
		_ = g.Shutdown(context.Background())
	}
	if err == nil || !strings.Contains(err.Error(), "gw.yaml:8:") || !strings.Contains(err.Error(), `query: "random" is not valid`) {
		t.Errorf("error %v, want one at gw.yaml:8 naming query", err)
	}
}

func TestMemoryStoreBoundAndLRU(t *testing.T) {
	evicted := new(filter.Counter)
	m := newMemory(16*4096, clock, evicted) // 4096 bytes a shard
	ctx := context.Background()
	e := func(n int) *Entry { return &Entry{Status: 200, Body: bytes.Repeat([]byte("b"), n)} }
	// Keys of one shard: variants of one primary key share it.
	key := func(i int) string { return "GET h/p\x00v=" + string(rune('a'+i)) }
	for i := range 3 {
		_ = m.Set(ctx, key(i), e(1000), time.Hour)
	}
	_, _ = m.Get(ctx, key(0)) // now the most recently used
	_ = m.Set(ctx, key(3), e(1500), time.Hour)
	if got, _ := m.Get(ctx, key(1)); got != nil {
		t.Error("the least recently used entry survived")
	}
	if got, _ := m.Get(ctx, key(0)); got == nil {
		t.Error("a recently used entry was evicted")
	}
	st := m.Stats()
	if st.Evictions != 1 || evicted.Load() != 1 || st.Entries != 3 || st.Bytes > 4096 {
		t.Errorf("stats %+v, evicted %d", st, evicted.Load())
	}
	_ = m.Set(ctx, "big", e(5000), time.Hour)
	if got, _ := m.Get(ctx, "big"); got != nil {
		t.Error("an entry larger than a shard was stored")
	}
	advance(3601)
	if got, _ := m.Get(ctx, key(0)); got != nil {
		t.Error("an expired entry was returned")
	}
}

func TestEntryEncoding(t *testing.T) {
	e := &Entry{Status: 203, Header: http.Header{"Etag": {`"x"`}, "Set": {"a", "b"}}, Body: []byte("body"),
		ResponseTime: time.Unix(1700000000, 5), InitialAge: 3 * time.Second, Lifetime: time.Minute,
		SWR: time.Second, SIE: 2 * time.Second, Revalidate: true, Vary: []string{"Accept"}}
	got, err := unmarshalEntry(e.marshal())
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != e.Status || string(got.Body) != "body" || !got.ResponseTime.Equal(e.ResponseTime) ||
		got.InitialAge != e.InitialAge || got.Lifetime != e.Lifetime || got.SWR != e.SWR || got.SIE != e.SIE ||
		!got.Revalidate || got.Vary[0] != "Accept" || got.Header.Get("Etag") != `"x"` || len(got.Header["Set"]) != 2 {
		t.Errorf("round trip: %+v", got)
	}
	b := e.marshal()
	for i := range len(b) {
		if _, err := unmarshalEntry(b[:i]); err == nil {
			t.Fatalf("a truncated entry (%d of %d bytes) decoded", i, len(b))
		}
	}
}

// key_by_consumer: each consumer has entries of its own, and a response to
// a request with Authorization is stored without public, since no other
// consumer can be answered from it.
func TestKeyByConsumer(t *testing.T) {
	rec := newRecorder(t)
	rec.set("/k/x", reply{header: h("Cache-Control", "max-age=60")})
	_, base, _ := gwtest.Serve(t, `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
consumers:
  - { name: a, api_keys: [{ key: "key-aaaaaaaaaaaaaaaaaaaa" }] }
  - { name: b, api_keys: [{ key: "key-bbbbbbbbbbbbbbbbbbbb" }] }
upstreams: { up: { targets: [{ url: "`+rec.srv.URL+`" }] } }
routes:
  - name: k
    match: { prefix: /k/ }
    filters:
      - apikey: {}
      - cache: { key_by_consumer: true, x_cache: true }
    upstream: up
`)
	for i, s := range []struct {
		key, cache, xcache string
		upstream           int
	}{
		{"key-aaaaaaaaaaaaaaaaaaaa", "uri-miss; stored", "MISS", 1},
		{"key-aaaaaaaaaaaaaaaaaaaa", "hit", "HIT", 1},
		{"key-bbbbbbbbbbbbbbbbbbbb", "uri-miss", "MISS", 2},
		{"key-bbbbbbbbbbbbbbbbbbbb", "hit", "HIT", 2},
	} {
		r := do(t, "GET", base+"/k/x", h("X-API-Key", s.key, "Authorization", "Bearer t"))
		if cs := r.header.Get("Cache-Status"); r.status != 200 || !strings.Contains(cs, s.cache) || r.header.Get("X-Cache") != s.xcache {
			t.Errorf("step %d (%s): %d Cache-Status %q X-Cache %q, want %q / %s", i+1, s.key, r.status, cs, r.header.Get("X-Cache"), s.cache, s.xcache)
		}
		if n := rec.count("/k/x"); n != s.upstream {
			t.Errorf("step %d: the upstream saw %d requests, want %d", i+1, n, s.upstream)
		}
	}
}

// A reload that leaves a route's store as it was keeps its entries; one
// that changes the store starts it empty.
func TestReloadKeepsEntries(t *testing.T) {
	rec := newRecorder(t)
	rec.set("/k/x", reply{header: h("Cache-Control", "max-age=600")})
	cfg := func(size string) string {
		return `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
upstreams: { up: { targets: [{ url: "` + rec.srv.URL + `" }] } }
routes:
  - name: k
    match: { prefix: /k/ }
    filters: [{ cache: { max_size: ` + size + ` } }]
    upstream: up
`
	}
	g, base, file := gwtest.Serve(t, cfg("64MiB"))
	reload := func(c string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := g.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	do(t, "GET", base+"/k/x", nil)
	reload(cfg("64MiB") + "# a comment changes the file, not the store\n")
	if cs := do(t, "GET", base+"/k/x", nil).header.Get("Cache-Status"); !strings.Contains(cs, "hit") {
		t.Errorf("after a reload that kept the store: %q, want a hit", cs)
	}
	reload(cfg("32MiB"))
	if cs := do(t, "GET", base+"/k/x", nil).header.Get("Cache-Status"); !strings.Contains(cs, "uri-miss") {
		t.Errorf("after a reload that changed the store: %q, want a miss", cs)
	}
}

// A declared length over max_object_size is not even copied; an upstream
// that cannot be reached is answered from a stale entry within
// stale-if-error.
func TestDeclaredOversizeAndUnreachableUpstream(t *testing.T) {
	rec := newRecorder(t)
	rec.set("/small/declared", reply{header: h("Cache-Control", "max-age=60")})
	rec.big["/small/declared"] = 100 << 10
	rec.set("/c/gone", reply{header: h("Cache-Control", "max-age=10, stale-if-error=60")})
	base := serve(t, rec, "")
	for i := range 2 {
		r := do(t, "GET", base+"/small/declared", nil)
		if len(r.body) != 100<<10 || !strings.Contains(r.header.Get("Cache-Status"), "uri-miss") || strings.Contains(r.header.Get("Cache-Status"), "stored") {
			t.Errorf("request %d: %d bytes, Cache-Status %q", i+1, len(r.body), r.header.Get("Cache-Status"))
		}
	}
	if n := rec.count("/small/declared"); n != 2 {
		t.Errorf("the upstream saw %d requests, want 2", n)
	}
	advance(100_000)
	do(t, "GET", base+"/c/gone", nil)
	rec.srv.CloseClientConnections()
	rec.srv.Listener.Close() // the upstream is gone: the gateway's own 502
	advance(20)
	r := do(t, "GET", base+"/c/gone", nil)
	if cs := r.header.Get("Cache-Status"); r.status != 200 || !strings.Contains(cs, "detail=stale-if-error") || !strings.Contains(r.body, "#1") {
		t.Errorf("with the upstream gone: %d %q %q, want the stale entry", r.status, cs, r.body)
	}
}
