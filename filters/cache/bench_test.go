package cache

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/internal/gwtest"
)

// BenchmarkHit compares, in one run, a cache hit through the in-process
// gateway with the same GET proxied to the upstream (1 KiB body), and the
// process's CPU per request for each (client, gateway and upstream share the
// process, so the CPU of a hit, which spares the gateway's upstream
// exchange and the upstream's work, is read against the proxied request's).
func BenchmarkHit(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 1024)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Cache-Control", "max-age=3600")
		_, _ = w.Write(body)
	}))
	defer up.Close()
	_, gw, _ := gwtest.Serve(b, `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
upstreams: { u: { targets: [{ url: "`+up.URL+`" }] } }
routes:
  - { name: plain, match: { prefix: /plain/ }, upstream: u }
  - name: cached
    match: { prefix: /cached/ }
    filters: [{ cache: {} }]
    upstream: u
`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	run := func(b *testing.B, url string) {
		b.ReportAllocs()
		start := cpuTime()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				resp, err := client.Get(url)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		})
		b.StopTimer()
		b.ReportMetric(float64((cpuTime()-start).Microseconds())/float64(b.N), "cpu-µs/op")
	}
	if r, err := client.Get(gw + "/cached/x"); err == nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	b.Run("Proxied", func(b *testing.B) { run(b, gw+"/plain/x") })
	b.Run("Hit", func(b *testing.B) { run(b, gw+"/cached/x") })
}

// cpuTime is the process's user and system CPU so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
