package proxywasm

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/filters/internal/stores"
	"github.com/wasmgate/wasmgate/internal/redistopo"
)

// Shared data in a Redis Cluster keeps its values and CAS numbers across
// the failover of the master holding them: written, replicated (WAIT),
// the master SIGKILLed, and read back from the promoted replica through
// the same client, which finds the new master itself (MOVED, slot map
// reload). The CAS script runs again after NOSCRIPT on the new master.
func TestSharedDataRedisClusterFailover(t *testing.T) {
	c := redistopo.StartCluster(t)
	rc := &stores.Redis{Mode: stores.ModeCluster, Addresses: c.Addrs(), KeyPrefix: "wgtest:",
		DialTimeout: config.Duration(time.Second), ReadTimeout: config.Duration(time.Second), WriteTimeout: config.Duration(time.Second), PoolSize: 8}
	r, err := NewRedisShared(rc, slog.New(slog.DiscardHandler), "vm", 1024)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	keys := []string{"a", "b", "c", "d", "e", "f"}
	cas := map[string]uint32{}
	for _, k := range keys {
		if st := r.Set(k, []byte("v-"+k), 0); st != StatusOK {
			t.Fatalf("set %s: %d", k, st)
		}
		_, cas[k], _ = r.Get(k)
	}
	master := c.MasterOf(r.key("a"))
	fence := master.Client()
	if err := fence.Set(context.Background(), r.key("a")+"fence", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := fence.Do(context.Background(), "WAIT", 1, 10000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT 1: %d %v", n, err)
	}
	master.Kill()
	killed := time.Now()
	// 20s is far above a failover (about 2s: a 1s node timeout and the
	// election) and far below go-redis's own periodic slot-map reload
	// (a minute), which is all a client without SlotRefresh would get.
	err = redistopo.Poll(20*time.Second, func() error {
		for _, k := range keys {
			v, got, st := r.Get(k)
			if st != StatusOK {
				return fmt.Errorf("get %s: status %d", k, st)
			}
			if string(v) != "v-"+k || got != cas[k] {
				return redistopo.Stop(fmt.Errorf("get %s after the failover: %q cas %d, want %q cas %d", k, v, got, "v-"+k, cas[k]))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("values read back %v after the kill", time.Since(killed).Round(100*time.Millisecond))
	// The CAS check still holds on the promoted master.
	if st := r.Set("a", []byte("x"), cas["a"]+1); st != StatusCasMismatch {
		t.Errorf("stale CAS after the failover: %d, want a mismatch", st)
	}
	if st := r.Set("a", []byte("x"), cas["a"]); st != StatusOK {
		t.Errorf("current CAS after the failover: %d", st)
	}
}
