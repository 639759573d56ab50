package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

const compressConfig = head + `
upstreams:
  sse:  { targets: [{ url: "{{.sse}}" }] }
  sink: { targets: [{ url: "{{.sink}}" }] }
routes:
  - name: events
    match: { path: /events }
    filters: [compress: {}]
    upstream: sse
  - name: upload
    match: { path: /upload }
    filters: [compress: { decompress_requests: { max: 1MiB } }]
    upstream: sink
`

// TestCompressStreams: a compressed event stream stays unbuffered through
// the binary, in every coding: the upstream sends each event only once the
// client has decoded the one before, so a gateway (or an encoder) holding
// bytes back would deliver nothing and time out.
func TestCompressStreams(t *testing.T) {
	needBinary(t)
	got := make(chan struct{}, 1)
	const events = 5
	sse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for i := 1; i <= events; i++ {
			fmt.Fprintf(w, "id: %d\ndata: %s\n\n", i, strings.Repeat("event ", 50))
			if rc.Flush() != nil {
				return
			}
			select {
			case <-got:
			case <-r.Context().Done():
				return
			}
		}
	}))
	t.Cleanup(sse.Close)
	g := startGateway(t, compressConfig, vars{"sse": sse.URL, "sink": sse.URL})
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	for _, enc := range []string{"gzip", "br", "zstd"} {
		t.Run(enc, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req := newRequest(t, "GET", g.URL("/events"), nil).WithContext(ctx)
			req.Header.Set("Accept-Encoding", enc)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if ce := resp.Header.Get("Content-Encoding"); ce != enc {
				t.Fatalf("Content-Encoding %q, want %s", ce, enc)
			}
			var dec io.Reader
			switch enc {
			case "gzip":
				dec, err = gzip.NewReader(resp.Body)
			case "br":
				dec = brotli.NewReader(resp.Body)
			case "zstd":
				var z *zstd.Decoder
				z, err = zstd.NewReader(resp.Body)
				if z != nil {
					defer z.Close()
				}
				dec = z
			}
			if err != nil {
				t.Fatal(err)
			}
			lines := bufio.NewScanner(dec)
			for i := 1; i <= events; i++ {
				want := fmt.Sprintf("id: %d", i)
				for lines.Scan() && lines.Text() != want {
				}
				if lines.Err() != nil || ctx.Err() != nil {
					t.Fatalf("event %d never arrived (%v): the stream was buffered", i, lines.Err())
				}
				got <- struct{}{} // the upstream may send the next one
			}
		})
	}
}

// TestCompressZipBomb: 10 MiB of zeros, gzipped to about 10 KiB, sent to a
// route that decodes request bodies up to 1 MiB, is refused with 413 and a
// JSON reason; the upstream never receives more than the cap.
func TestCompressZipBomb(t *testing.T) {
	needBinary(t)
	received := make(chan int, 4)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		received <- int(n)
		fmt.Fprintf(w, "%d", n)
	}))
	t.Cleanup(sink.Close)
	g := startGateway(t, compressConfig, vars{"sse": sink.URL, "sink": sink.URL})
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	zw.Write(make([]byte, 10<<20))
	zw.Close()
	if bomb.Len() > 64<<10 {
		t.Fatalf("the bomb is %d bytes", bomb.Len())
	}
	req := newRequest(t, "POST", g.URL("/upload"), bytes.NewReader(bomb.Bytes()))
	req.Header.Set("Content-Encoding", "gzip")
	resp, body := g.Do(req)
	if resp.StatusCode != 413 || !strings.Contains(string(body), `"status":413`) || !strings.Contains(string(body), `"error":`) {
		t.Fatalf("bomb: %d %s; want 413 with a JSON reason", resp.StatusCode, body)
	}
	select {
	case n := <-received:
		if n > 1<<20 {
			t.Errorf("the upstream received %d decoded bytes, more than the 1 MiB cap", n)
		}
	default: // the gateway refused before the upstream answered: fine
	}
	// A body within the cap arrives decoded.
	var small bytes.Buffer
	zw = gzip.NewWriter(&small)
	zw.Write(bytes.Repeat([]byte("a"), 1000))
	zw.Close()
	req = newRequest(t, "POST", g.URL("/upload"), &small)
	req.Header.Set("Content-Encoding", "gzip")
	if resp, body := g.Do(req); resp.StatusCode != 200 || string(body) != "1000" {
		t.Errorf("small gzip body: %d %q, want the upstream to count 1000 decoded bytes", resp.StatusCode, body)
	}
}
