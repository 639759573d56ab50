package proxywasm

import (
	"log/slog"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/filters/internal/redistest"
	"github.com/wasmgate/wasmgate/filters/internal/stores"
)

// The in-process store is shared by plugins with the same vm id, bounded,
// and safe under -race.
func TestSharedDataMemory(t *testing.T) {
	s := MemShared("vm-"+t.Name(), 64)
	if st := s.Set("k", []byte("v"), 0); st != StatusOK {
		t.Fatalf("set: %d", st)
	}
	_, cas, _ := s.Get("k")
	if st := s.Set("k", []byte("w"), cas+1); st != StatusCasMismatch {
		t.Errorf("stale CAS: %d, want CAS_MISMATCH", st)
	}
	if st := s.Set("big", make([]byte, 100), 0); st != StatusInternalFailure {
		t.Errorf("over the bound: %d, want INTERNAL_FAILURE", st)
	}
	other := MemShared("vm-"+t.Name(), 64)
	if v, _, st := other.Get("k"); st != StatusOK || string(v) != "v" {
		t.Errorf("same vm id: %q %d", v, st)
	}
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 200 {
				for {
					v, cas, _ := s.Get("n")
					nv := append(append([]byte(nil), v...), byte('a'+g))
					if len(nv) > 20 {
						nv = nv[:1]
					}
					if s.Set("n", nv, cas) == StatusOK {
						break
					}
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
}

func BenchmarkSharedData(b *testing.B) {
	val := []byte("0123456789abcdef")
	run := func(b *testing.B, s SharedStore) {
		if s.Set("k", val, 0) != StatusOK {
			b.Fatal("set")
		}
		b.Run("get", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, _, st := s.Get("k"); st != StatusOK {
					b.Fatal(st)
				}
			}
		})
		b.Run("set", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if st := s.Set("k", val, 0); st != StatusOK {
					b.Fatal(st)
				}
			}
		})
		b.Run("get_then_cas_set", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				_, cas, _ := s.Get("k")
				if st := s.Set("k", val, cas); st != StatusOK {
					b.Fatal(st)
				}
			}
		})
	}
	b.Run("memory", func(b *testing.B) { run(b, MemShared("bench-"+b.Name(), 1<<20)) })
	b.Run("redis", func(b *testing.B) {
		r, err := NewRedisShared(redisStore(b), slog.New(slog.DiscardHandler), "bench", 1<<20)
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		run(b, r)
	})
}

func redisStore(t testing.TB) *stores.Redis {
	addr := redistest.Addr(t)
	return &stores.Redis{Address: addr, KeyPrefix: redistest.Prefix(t),
		DialTimeout: config.Duration(time.Second), ReadTimeout: config.Duration(time.Second), WriteTimeout: config.Duration(time.Second), PoolSize: 8}
}
