package cache

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/filters/internal/redistest"
	"github.com/wasmgate/wasmgate/filters/internal/stores"
	"github.com/wasmgate/wasmgate/internal/gwtest"
	"github.com/wasmgate/wasmgate/internal/redistopo"
)

func newTestRedisStore(t *testing.T, addr string) *redisStore {
	return newTestStore(t, &stores.Redis{Address: addr, KeyPrefix: redistest.Prefix(t)})
}

func newTestStore(t *testing.T, rc *stores.Redis) *redisStore {
	rc.ReadTimeout, rc.WriteTimeout, rc.DialTimeout, rc.PoolSize = 1e9, 1e9, 1e9, 4
	client, err := rc.NewClient(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s := newRedisStore(rc, client, "r", slog.New(slog.DiscardHandler))
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Entries round-trip through Redis with their TTL; a purge finds a key's
// variants and a prefix's keys, glob characters in them taken literally.
func TestRedisStore(t *testing.T) {
	testRedisStore(t, newTestRedisStore(t, redistest.Addr(t)))
}

// The same in a Redis Cluster: the keys spread over the masters, and a
// purge scans each and unlinks key by key (one UNLINK of keys in several
// slots would be refused with CROSSSLOT).
func TestRedisStoreCluster(t *testing.T) {
	c := redistopo.StartCluster(t)
	testRedisStore(t, newTestStore(t, &stores.Redis{Mode: stores.ModeCluster, Addresses: c.Addrs(), KeyPrefix: "wgtest:"}))
}

func testRedisStore(t *testing.T, s *redisStore) {
	ctx := context.Background()
	e := &Entry{Status: 200, Header: http.Header{"Etag": {`"a"`}}, Body: []byte("hello"), ResponseTime: time.Unix(1, 0), Lifetime: time.Minute}
	keys := []string{"GET h/a*", "GET h/a*\x00Accept=x", "GET h/a*\x00Accept=y", "GET h/ab", "GET h/b"}
	for _, k := range keys {
		if err := s.Set(ctx, k, e, 90*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Get(ctx, "GET h/a*\x00Accept=x")
	if err != nil || got == nil || string(got.Body) != "hello" || got.etag() != `"a"` {
		t.Fatalf("get: %+v %v", got, err)
	}
	if ttl := s.client.PTTL(ctx, s.prefix+"GET h/b").Val(); ttl <= 80*time.Second || ttl > 90*time.Second {
		t.Errorf("TTL %v, want the 90s given", ttl)
	}
	if n, err := s.Purge(ctx, "GET h/a*", false); err != nil || n != 3 {
		t.Errorf("purge of a key: %d %v, want 3 (the key and its variants, not GET h/ab)", n, err)
	}
	if got, _ := s.Get(ctx, "GET h/ab"); got == nil {
		t.Error("a key purge took GET h/ab: * was read as a glob")
	}
	if n, err := s.Purge(ctx, "GET h/", true); err != nil || n != 2 {
		t.Errorf("purge of a prefix: %d %v, want 2", n, err)
	}
	if got, err := s.Get(ctx, "GET h/b"); got != nil || err != nil {
		t.Errorf("after purge: %v %v", got, err)
	}
	// A value that is not an entry is a miss, counted, never a panic.
	s.client.Set(ctx, s.prefix+"bad", "garbage", time.Minute)
	if got, err := s.Get(ctx, "bad"); got != nil || err == nil || s.Stats().StoreErrors == 0 {
		t.Errorf("garbage: %v %v %+v", got, err, s.Stats())
	}
}

// A Redis that cannot be reached makes every request a miss: answered by
// the upstream, never an error.
func TestRedisDownIsAMiss(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	rec := newRecorder(t)
	rec.set("/r/x", reply{header: h("Cache-Control", "max-age=60")})
	_, base, _ := gwtest.Serve(t, `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
stores: { redis: { address: "`+dead+`", dial_timeout: 50ms } }
upstreams: { up: { targets: [{ url: "`+rec.srv.URL+`" }] } }
routes:
  - name: r
    match: { prefix: /r/ }
    filters: [{ cache: { store: redis } }]
    upstream: up
`)
	for i := range 2 {
		r := do(t, "GET", base+"/r/x", nil)
		if r.status != 200 || !strings.Contains(r.header.Get("Cache-Status"), "uri-miss") {
			t.Errorf("request %d: %d %q, want 200 and a miss", i+1, r.status, r.header.Get("Cache-Status"))
		}
	}
	if got := rec.count("/r/x"); got != 2 {
		t.Errorf("the upstream saw %d requests, want 2", got)
	}
	var errs uint64
	for _, ls := range liveStores("r") {
		errs += ls.Stats().StoreErrors
	}
	if errs != 1 {
		t.Errorf("%d failed commands, want 1: after the first the store is left alone for a while", errs)
	}
}
