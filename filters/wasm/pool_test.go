package wasm

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
)

// Load creates every instance of the pool, each started (vm_start,
// configure) before any exchange, as Envoy starts each worker's VM when
// the config loads; traffic then creates none.
func TestPoolFilledAtLoad(t *testing.T) {
	opts, logs := testOptions(t, "minimal")
	opts.Instances = 4
	p := load(t, "minimal", opts)
	if s := p.Stats(); s.InstancesCreated != 4 || s.LiveInstances != 4 || s.IdleInstances != 4 {
		t.Fatalf("after load: %+v, want 4 instances created, live and idle", s)
	}
	if n := strings.Count(logs.String(), "wasm instance created"); n != 4 {
		t.Errorf("%d instances logged as created at load, want 4", n)
	}
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			exchange(t, p, request("GET", "http://x/"))
		}()
	}
	wg.Wait()
	if s := p.Stats(); s.InstancesCreated != 4 || s.Exchanges != 32 {
		t.Errorf("after traffic: %+v, want no instance created beyond the 4", s)
	}
}

// Sequential exchanges on a pool of 4 Go-SDK instances, all idle between
// exchanges: what instance affinity (which idle instance an exchange
// takes) costs or saves in cache warmth.
func BenchmarkPoolAffinity(b *testing.B) {
	code, err := os.ReadFile("../../plugins/add-header/add-header.wasm")
	if err != nil {
		b.Fatal(err)
	}
	opts := benchOptions(b)
	opts.Instances = 4
	p, err := LoadBytes(context.Background(), code, opts)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	benchHeaderExchanges(b, p)
}
