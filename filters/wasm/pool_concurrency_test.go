package wasm

import (
	"context"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/wasmgate/wasmgate/core/filter"
)

// 256 concurrent exchanges on a pool of 4 Go-SDK instances: the pool never
// grows past its bound, exchanges share instances instead of failing, and
// every one gets its header.
func TestPool256Concurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the Go SDK plugin")
	}
	opts, _ := testOptions(t, "add-header")
	opts.Instances = 4
	p, err := Load(context.Background(), "../../plugins/add-header/add-header.wasm", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	f := p.NewFilter()
	const conns, each = 256, 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	missing := 0
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				r, _ := http.NewRequest("GET", "http://x/", nil)
				x := &filter.Exchange{Request: r}
				if f.OnRequest(x) != nil {
					t.Error("local response")
				}
				x.Response = &filter.Response{Status: 200, Header: http.Header{}}
				f.OnResponse(x)
				f.OnDone(x)
				if r.Header.Get("X-Wasm") == "" {
					mu.Lock()
					missing++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	s := p.Stats()
	t.Logf("stats after %d exchanges on %d goroutines: %+v; %s", conns*each, conns, s, rss())
	if s.Failures != 0 || missing != 0 || s.Exchanges != conns*each {
		t.Errorf("failures %d, missing headers %d, exchanges %d", s.Failures, missing, s.Exchanges)
	}
	if s.LiveInstances > 4 || s.InstancesCreated > 4 {
		t.Errorf("pool grew past its bound: %+v", s)
	}
}

func rss() string {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS") {
			return strings.Join(strings.Fields(l), " ")
		}
	}
	return ""
}
