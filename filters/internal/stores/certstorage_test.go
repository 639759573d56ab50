package stores

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/wasmgate/wasmgate/filters/internal/redistest"
	"github.com/wasmgate/wasmgate/internal/redistopo"
)

func newCertStorage(t *testing.T) *CertStorage {
	s, err := NewCertStorage(&Redis{Address: redistest.Addr(t), KeyPrefix: redistest.Prefix(t)}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.client.Close() })
	return s
}

func TestCertStorageKeys(t *testing.T) {
	testCertStorageKeys(t, newCertStorage(t))
}

// In a Redis Cluster the keys spread over the masters: List scans each,
// and Delete of a directory is not one cross-slot DEL.
func TestCertStorageKeysCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	c := redistopo.StartCluster(t)
	s, err := NewCertStorage(&Redis{Mode: ModeCluster, Addresses: c.Addrs(), KeyPrefix: redistest.Prefix(t)}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.client.Close() })
	testCertStorageKeys(t, s)
}

func testCertStorageKeys(t *testing.T, s *CertStorage) {
	ctx := context.Background()
	for _, k := range []string{"certificates/ca/a.test/a.test.crt", "certificates/ca/a.test/a.test.key", "certificates/ca/b.test/b.test.crt", "acme/account.json"} {
		if err := s.Store(ctx, k, []byte("value of "+k)); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := s.Load(ctx, "acme/account.json"); err != nil || string(v) != "value of acme/account.json" {
		t.Fatalf("Load = %q, %v", v, err)
	}
	if _, err := s.Load(ctx, "acme/none"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load of a missing key: %v, want fs.ErrNotExist", err)
	}
	got, err := s.List(ctx, "certificates/ca", false)
	if want := []string{"certificates/ca/a.test", "certificates/ca/b.test"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("List = %v, %v; want %v", got, err, want)
	}
	got, _ = s.List(ctx, "certificates", true)
	if len(got) != 3 {
		t.Fatalf("recursive List = %v", got)
	}
	if ki, err := s.Stat(ctx, "certificates/ca/a.test"); err != nil || ki.IsTerminal {
		t.Fatalf("Stat of a directory = %+v, %v", ki, err)
	}
	if ki, err := s.Stat(ctx, "acme/account.json"); err != nil || !ki.IsTerminal || ki.Size != int64(len("value of acme/account.json")) || time.Since(ki.Modified) > time.Minute {
		t.Fatalf("Stat of a key = %+v, %v", ki, err)
	}
	if err := s.Delete(ctx, "certificates/ca/a.test"); err != nil {
		t.Fatal(err)
	}
	if s.Exists(ctx, "certificates/ca/a.test/a.test.key") || s.Exists(ctx, "certificates/ca/a.test") || !s.Exists(ctx, "certificates/ca/b.test") {
		t.Fatal("Delete of a directory left it, or took its sibling")
	}
}

// One holder at a time; the next Lock waits for Unlock.
func TestCertStorageLockExcludes(t *testing.T) {
	ctx := context.Background()
	a, b := newCertStorage(t), newCertStorage(t)
	b.prefix = a.prefix // two instances, one Redis
	if err := a.Lock(ctx, "issue_cert_x"); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := b.Lock(short, "issue_cert_x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second Lock while held = %v, want to wait until its context ended", err)
	}
	got := make(chan error, 1)
	go func() { got <- b.Lock(ctx, "issue_cert_x") }()
	if err := a.Unlock(ctx, "issue_cert_x"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Lock did not get the lock after Unlock")
	}
	b.Unlock(ctx, "issue_cert_x")
}

// A held lock outlives its TTL (it is extended); a holder that died (no
// Unlock, no extension) loses it after the TTL; an Unlock by a holder whose
// lock expired does not delete the new holder's lock.
func TestCertStorageLockExpiry(t *testing.T) {
	ctx := context.Background()
	a, b := newCertStorage(t), newCertStorage(t)
	b.prefix = a.prefix
	a.ttl, b.ttl = 600*time.Millisecond, 600*time.Millisecond
	if err := a.Lock(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	// Held across several TTLs: extended by a every TTL/3.
	wait, cancel := context.WithTimeout(ctx, 3*a.ttl)
	if err := b.Lock(wait, "l"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock of an extended lock = %v", err)
	}
	cancel()
	// a "dies": its extension stops, without Unlock.
	a.mu.Lock()
	h := a.locks["l"]
	a.mu.Unlock()
	close(h.stop)
	<-h.done
	if err := b.Lock(ctx, "l"); err != nil {
		t.Fatalf("Lock after the holder died: %v", err)
	}
	// a's Unlock (token no longer current) must not release b's lock.
	a.mu.Lock()
	h.stop, h.done = make(chan struct{}), make(chan struct{})
	close(h.done)
	a.mu.Unlock()
	if err := a.Unlock(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	tok, err := b.client.Get(ctx, b.lockKey("l")).Result()
	if err != nil || tok != b.locks["l"].token {
		t.Fatalf("b's lock after a stale Unlock: %q, %v", tok, err)
	}
	b.Unlock(ctx, "l")
}

var _ certmagic.Locker = (*CertStorage)(nil)
