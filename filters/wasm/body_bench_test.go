package wasm

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/gateway"
)

// A 1 MiB POST through a real gateway (listeners, proxy, upstream), on a
// route whose plugin inspects every chunk of both bodies (reads it into
// guest memory and continues: testdata/inspect_body.wat, or the module
// named by WASMGATE_BENCH_BODY_WASM), against the same route without the
// plugin; and a GET on both, which never enters a body callback. Read the
// streaming overhead as the difference of the sub-benchmarks.
func BenchmarkBodyStream(b *testing.B) {
	b.Setenv("WASMGATE_CACHE_DIR", filepath.Join(b.TempDir(), "cache"))
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			w.WriteHeader(http.StatusNoContent) // no body either way: the bodiless path
			return
		}
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, n)
	}))
	defer up.Close()
	guest := os.Getenv("WASMGATE_BENCH_BODY_WASM")
	if guest == "" {
		guest = "testdata/inspect_body.wasm"
	}
	guest, _ = filepath.Abs(guest)
	file := filepath.Join(b.TempDir(), "gw.yaml")
	cfg := fmt.Sprintf(`
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
upstreams:
  up: { targets: [{ url: %q }] }
plugins:
  inspect: { source: %q, limits: { instances: 2 } }
routes:
  - { name: plain, match: { prefix: /plain }, upstream: up }
  - { name: inspect, match: { prefix: /inspect }, filters: [{ wasm: inspect }], upstream: up }
`, up.URL, guest)
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	g, err := gateway.Start(gateway.Source{File: file}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = g.Shutdown(b.Context()) }()
	base := "http://" + g.Addrs()["main"].String()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB

	for _, route := range []string{"plain", "inspect"} {
		b.Run("post_1MiB/"+route, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			defer reportCPU(b)()
			for i := 0; i < b.N; i++ {
				resp, err := client.Post(base+"/"+route, "application/octet-stream", bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(got) != "1048576" {
					b.Fatalf("status %d, upstream read %s bytes", resp.StatusCode, got)
				}
			}
		})
	}
	for _, route := range []string{"plain", "inspect"} {
		b.Run("get/"+route, func(b *testing.B) {
			b.ReportAllocs()
			defer reportCPU(b)()
			for i := 0; i < b.N; i++ {
				resp, err := client.Get(base + "/" + route)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusNoContent {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}

// reportCPU reports the process's CPU time per op (client, gateway and
// upstream together: the same for both routes, so the difference is the
// plugin's), which a loaded machine's scheduling does not inflate as it
// does wall time.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	b.ResetTimer()
	return func() {
		b.StopTimer()
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// The same 1 MiB request body through the chain's streaming contract
// alone (no network): the plugin's cost per body, by the size of the
// chunks the body arrives in, against copying it with no filter.
func BenchmarkBodyStreamChain(b *testing.B) {
	code, err := os.ReadFile("testdata/inspect_body.wasm")
	if err != nil {
		b.Fatal(err)
	}
	p, err := LoadBytes(b.Context(), code, benchOptions(b))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	for _, chunk := range []int{4 << 10, 32 << 10} {
		b.Run(fmt.Sprintf("none/chunk_%dKiB", chunk>>10), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				n, _ := io.Copy(io.Discard, &chunkReader{b: body, n: chunk})
				if n != int64(len(body)) {
					b.Fatal(n)
				}
			}
		})
		b.Run(fmt.Sprintf("inspect/chunk_%dKiB", chunk>>10), func(b *testing.B) {
			f := p.NewFilter()
			chain := filter.NewChain([]filter.Filter{f})
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				r, _ := http.NewRequest("POST", "http://x/", &chunkReader{b: body, n: chunk})
				r.ContentLength = int64(len(body))
				x := &filter.Exchange{Request: r}
				if f.OnRequest(x) != nil {
					b.Fatal("local response")
				}
				if _, resp := chain.StreamRequest(x, 1); resp != nil {
					b.Fatal(resp.Status)
				}
				n, _ := io.Copy(io.Discard, r.Body)
				if n != int64(len(body)) {
					b.Fatal(n)
				}
				f.OnDone(x)
			}
		})
	}
}

// chunkReader returns b at most n bytes per read, as a client's body
// arrives in reads of the connection.
type chunkReader struct {
	b []byte
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), c.n)], c.b)
	c.b = c.b[k:]
	return k, nil
}
