package compress

import (
	"bytes"
	stdgzip "compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/wasmgate/wasmgate/internal/gwtest"
)

// corpus is a deterministic JSON-like body of n bytes: repetitive enough
// to compress, varied enough not to be trivial.
func corpus(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `{"id":%d,"name":"user-%d","score":%d,"tags":["a%d","b%d"]},`, i, i*7919%1000, i*31%97, i%13, i%5)
	}
	return b.Bytes()[:n]
}

// decodeWith is the client's decoder for a coding: the standard library's
// for gzip (a reference other than the encoder's own library), the
// libraries' readers for zstd and br.
func decodeWith(t *testing.T, enc string, body []byte) []byte {
	t.Helper()
	var r io.Reader
	var err error
	switch enc {
	case "gzip":
		r, err = stdgzip.NewReader(bytes.NewReader(body))
	case "zstd":
		var d *zstd.Decoder
		d, err = zstd.NewReader(bytes.NewReader(body))
		if d != nil {
			defer d.Close()
		}
		r = d
	case "br":
		r = brotli.NewReader(bytes.NewReader(body))
	default:
		t.Fatalf("no decoder for %q", enc)
	}
	if err != nil {
		t.Fatalf("%s: %v", enc, err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: decoding: %v", enc, err)
	}
	return out
}

func serveRoute(t *testing.T, up http.Handler, filter string) string {
	t.Helper()
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	cfg := fmt.Sprintf(`
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
upstreams: { up: { targets: [{ url: %q }] } }
routes:
  - name: r
    match: { prefix: / }
    filters:
      - compress: %s
    upstream: up
`, srv.URL, filter)
	_, base, _ := gwtest.Serve(t, cfg)
	return base
}

// plainTransport neither asks for gzip on its own nor decodes it.
var plainTransport = &http.Transport{DisableCompression: true}

func get(t *testing.T, method, url string, h ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for i := 0; i+1 < len(h); i += 2 {
		req.Header.Set(h[i], h[i+1])
	}
	resp, err := plainTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// TestRoundTrip is the differential check: for each coding, with and
// without a Content-Length from the upstream, and at sizes on both sides
// of the chain's 32 KiB chunks, the client's decoder gets back exactly
// the upstream's bytes, with the headers a coded response must have.
func TestRoundTrip(t *testing.T) {
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		body := corpus(n)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Vary", "Origin")
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.Write(body)
			return
		}
		rc := http.NewResponseController(w)
		for len(body) > 0 { // in uneven pieces, flushed: chunked
			k := min(len(body), 7000)
			w.Write(body[:k])
			rc.Flush()
			body = body[k:]
		}
	})
	base := serveRoute(t, up, "{}")
	for _, enc := range []string{"gzip", "br", "zstd"} {
		for _, n := range []int{1024, 5000, 32 << 10, 100_000, 1 << 20} {
			for _, chunked := range []string{"", "1"} {
				resp, body := get(t, "GET", fmt.Sprintf("%s/?n=%d&chunked=%s", base, n, chunked), "Accept-Encoding", enc)
				name := fmt.Sprintf("%s n=%d chunked=%q", enc, n, chunked)
				if ce := resp.Header.Get("Content-Encoding"); ce != enc {
					t.Fatalf("%s: Content-Encoding %q", name, ce)
				}
				if got := decodeWith(t, enc, body); !bytes.Equal(got, corpus(n)) {
					t.Fatalf("%s: decoded %d bytes, not the upstream's %d", name, len(got), n)
				}
				if len(body) >= n/2 {
					t.Errorf("%s: %d bytes coded from %d: not compressed", name, len(body), n)
				}
				if v := resp.Header.Values("Vary"); strings.Join(v, ",") != "Origin,Accept-Encoding" {
					t.Errorf("%s: Vary %q", name, v)
				}
				if et := resp.Header.Get("ETag"); et != `W/"v1"` {
					t.Errorf("%s: ETag %q, want the weak W/\"v1\"", name, et)
				}
				if cl := resp.Header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(body)) {
					t.Errorf("%s: Content-Length %s for %d coded bytes", name, cl, len(body))
				}
			}
		}
	}
}

// TestLeftAlone: what must not be compressed passes byte for byte.
func TestLeftAlone(t *testing.T) {
	body := corpus(4096)
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/plain")
		status := 200
		switch r.URL.Path {
		case "/png":
			h.Set("Content-Type", "image/png")
		case "/grpc":
			h.Set("Content-Type", "application/grpc+json")
		case "/none":
			h["Content-Type"] = nil // not even sniffed
		case "/small":
			w.Write(body[:100])
			return
		case "/encoded":
			h.Set("Content-Encoding", "gzip") // the body is not gzip: it must not be touched at all
		case "/range":
			h.Set("Content-Range", "bytes 0-4095/10000")
			status = 206
		case "/no-transform":
			h.Set("Cache-Control", "public, no-transform")
		case "/204":
			w.WriteHeader(204)
			return
		case "/304":
			w.WriteHeader(304)
			return
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		w.Write(body)
	})
	base := serveRoute(t, up, "{ min_size: 1KiB }")
	for _, path := range []string{"/png", "/grpc", "/none", "/small", "/encoded", "/range", "/no-transform", "/204", "/304"} {
		resp, got := get(t, "GET", base+path, "Accept-Encoding", "gzip, br, zstd")
		ce := resp.Header.Get("Content-Encoding")
		if path == "/encoded" {
			if ce != "gzip" || !bytes.Equal(got, body) {
				t.Errorf("%s: Content-Encoding %q, body changed: %v; want the upstream's as is", path, ce, !bytes.Equal(got, body))
			}
			continue
		}
		if ce != "" {
			t.Errorf("%s: compressed (%s)", path, ce)
		}
		if resp.StatusCode != 204 && resp.StatusCode != 304 && !bytes.HasPrefix(body, got) {
			t.Errorf("%s: body changed", path)
		}
	}
	// HEAD: no coding announced for a body that is not sent.
	resp, _ := get(t, "HEAD", base+"/", "Accept-Encoding", "gzip")
	if ce := resp.Header.Get("Content-Encoding"); ce != "" {
		t.Errorf("HEAD: Content-Encoding %q", ce)
	}
	// A client that accepts nothing: identity, but the response varies.
	resp, got := get(t, "GET", base+"/")
	if ce := resp.Header.Get("Content-Encoding"); ce != "" || !bytes.Equal(got, body) {
		t.Errorf("no Accept-Encoding: Content-Encoding %q", ce)
	}
	if v := resp.Header.Get("Vary"); v != "Accept-Encoding" {
		t.Errorf("no Accept-Encoding: Vary %q, want Accept-Encoding", v)
	}
	if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(len(body)) {
		t.Errorf("identity: Content-Length %q", cl)
	}
}

// TestDecompressRequests: coded request bodies reach the upstream decoded,
// streamed or buffered; a zip bomb is refused with 413 and a JSON reason;
// a body that is not what it says is 400.
func TestDecompressRequests(t *testing.T) {
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return // the gateway answers the client itself
		}
		fmt.Fprintf(w, "%s|%s|%s", r.Header.Get("Content-Encoding"), r.Header.Get("Content-Length"), b)
	})
	base := serveRoute(t, up, "{ decompress_requests: { max: 1MiB } }")
	post := func(enc string, body []byte, chunked bool) (int, string) {
		t.Helper()
		var rd io.Reader = bytes.NewReader(body)
		if chunked {
			rd = io.MultiReader(rd) // hides the length: sent chunked
		}
		req, _ := http.NewRequest("POST", base+"/", rd)
		req.Header.Set("Content-Encoding", enc)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	plain := []byte(`{"hello":"world"}`)
	for _, enc := range []string{"gzip", "br", "zstd"} {
		for _, chunked := range []bool{false, true} {
			code, got := post(enc, encode(t, enc, plain), chunked)
			if code != 200 || got != "||"+string(plain) {
				t.Errorf("%s chunked=%v: %d %q; want the plain body without Content-Encoding", enc, chunked, code, got)
			}
		}
		bomb := encode(t, enc, make([]byte, 10<<20))
		if len(bomb) > 64<<10 {
			t.Fatalf("%s: a 10 MiB bomb is %d bytes coded", enc, len(bomb))
		}
		code, got := post(enc, bomb, false)
		if code != 413 || !strings.Contains(got, `"status":413`) {
			t.Errorf("%s bomb (%d bytes): %d %q; want 413 with a JSON reason", enc, len(bomb), code, got)
		}
		code, got = post(enc, []byte("this is not "+enc), false)
		if code != 400 || !strings.Contains(got, `"status":400`) {
			t.Errorf("%s malformed: %d %q; want 400", enc, code, got)
		}
	}
	// Not decoded: no coding, or one this filter does not know.
	if code, got := post("deflate", []byte("raw"), false); code != 200 || got != "deflate|3|raw" {
		t.Errorf("unknown coding: %d %q, want it passed as is", code, got)
	}
}

func encode(t *testing.T, enc string, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	var w io.WriteCloser
	switch enc {
	case "gzip":
		w = gzip.NewWriter(&out)
	case "br":
		w = brotli.NewWriter(&out)
	case "zstd":
		w, _ = zstd.NewWriter(&out)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
