package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/filter"
)

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the proxy, not a recorder. Like the server's writer it supports
// write deadlines and flushing.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header                { return d.h }
func (d *discardWriter) Write(p []byte) (int, error)        { return len(p), nil }
func (d *discardWriter) WriteHeader(int)                    {}
func (d *discardWriter) Flush()                             {}
func (d *discardWriter) SetWriteDeadline(t time.Time) error { return nil }

func benchBackend(b *testing.B) *httptest.Server {
	body := strings.Repeat("x", 1024)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}))
	b.Cleanup(s.Close)
	return s
}

// BenchmarkForward is one proxied exchange: RoundTrip and WriteResponse of a
// 1 KiB response from a loopback upstream.
func BenchmarkForward(b *testing.B) {
	back := benchBackend(b)
	up := newUpstream(b, back.URL, nil)
	p := New(Options{WriteTimeout: 60e9})
	r := httptest.NewRequest("GET", "http://api.example.com/users/42?full=1", nil)
	r.Header.Set("Accept", "application/json")
	r.Header.Set("User-Agent", "bench")
	w := &discardWriter{h: make(http.Header)}
	x := &filter.Exchange{Request: r, ClientIP: netip.MustParseAddr("192.0.2.1")}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		resp, perr := p.RoundTrip(w, x, up, false)
		if perr != nil {
			b.Fatal(perr)
		}
		x.Response = &filter.Response{Status: resp.StatusCode, Header: resp.Header}
		if err := p.WriteResponse(w, r, x, resp); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTransportBaseline is the floor: the request BenchmarkForward
// sends upstream (forwarding headers included, so the upstream's parsing
// costs the same), through the same transport, body read and discarded,
// with nothing of ours around it.
func BenchmarkTransportBaseline(b *testing.B) {
	back := benchBackend(b)
	tr := newUpstream(b, back.URL, nil).Transport()
	req, _ := http.NewRequest("GET", back.URL+"/users/42?full=1", nil)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "bench")
	req.Header.Set("X-Forwarded-For", "192.0.2.1")
	req.Header.Set("Forwarded", "for=192.0.2.1;host=api.example.com;proto=http")
	req.Header.Set("X-Forwarded-Proto", "http")
	req.Header.Set("X-Forwarded-Host", "api.example.com")
	req.Header.Set("X-Real-Ip", "192.0.2.1")
	buf := make([]byte, 32<<10)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := tr.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		io.CopyBuffer(io.Discard, resp.Body, buf)
		resp.Body.Close()
	}
}
