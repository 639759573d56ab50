package wasm

import (
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/wasmgate/wasmgate/core/filter"
)

// The two ABIs side by side: a guest adding one request header, per
// exchange (request, response and done phases), for both settings of
// close_on_context_done.
func BenchmarkHeaderFilterABIs(b *testing.B) {
	for _, abi := range []struct{ name, file string }{{"proxy-wasm", "testdata/minimal.wasm"}, {"http-wasm", "testdata/hw_header.wasm"}} {
		for _, closeOn := range []bool{true, false} {
			name := abi.name + "/close_on_context_done"
			if !closeOn {
				name = abi.name + "/no_close_on_context_done"
			}
			b.Run(name, func(b *testing.B) {
				code, err := os.ReadFile(abi.file)
				if err != nil {
					b.Fatal(err)
				}
				opts := benchOptions(b)
				opts.NoCloseOnContextDone = !closeOn
				p, err := LoadBytes(context.Background(), code, opts)
				if err != nil {
					b.Fatal(err)
				}
				defer p.Close()
				benchHeaderExchanges(b, p)
			})
		}
	}
}

// One proxy_http_call per exchange against a loopback upstream, beside the
// same GET made directly with the same transport: the difference is what
// the callout machinery adds (dispatch, goroutine, delivery to the root
// context, effective context, resume).
func BenchmarkCallout(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream", "up")
		_, _ = w.Write([]byte("tok-123"))
	}))
	defer up.Close()
	b.Run("direct_get", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			req, _ := http.NewRequest("GET", up.URL+"/token", nil)
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	b.Run("filter_with_callout", func(b *testing.B) {
		code, err := os.ReadFile("testdata/callout.wasm")
		if err != nil {
			b.Fatal(err)
		}
		opts := benchOptions(b)
		opts.Config = binary.LittleEndian.AppendUint32(nil, 1000)
		opts.Callouts = map[string]Caller{"backend": URLCaller(up.URL)}
		p, err := LoadBytes(context.Background(), code, opts)
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		f := p.NewFilter()
		r, _ := http.NewRequest("GET", "http://x/", nil)
		x := &filter.Exchange{Request: r}
		resp := &filter.Response{Status: 200, Header: http.Header{}}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			delete(r.Header, "X-Token")
			delete(r.Header, "X-Callout-Header")
			if f.OnRequest(x) != nil {
				b.Fatal("local response")
			}
			if r.Header.Get("X-Token") != "tok-123" {
				b.Fatal("no token")
			}
			x.Response = resp
			f.OnResponse(x)
			f.OnDone(x)
		}
	})
}
