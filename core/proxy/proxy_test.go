package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/netip"
	"net/textproto"
	"strconv"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/core/filter"
)

// seen is what a test upstream observed of one request.
type seen struct {
	header     http.Header
	host       string
	requestURI string
	proto      int
}

// recordingBackend answers 200 "ok" and reports each request it saw.
func recordingBackend(t *testing.T, respond func(w http.ResponseWriter)) (*httptest.Server, chan seen) {
	ch := make(chan seen, 16)
	s := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		ch <- seen{r.Header.Clone(), r.Host, r.RequestURI, r.ProtoMajor}
		if respond != nil {
			respond(w)
		}
		io.WriteString(w, "ok")
	})
	return s, ch
}

func TestHopByHopBothDirections(t *testing.T) {
	back, got := recordingBackend(t, func(w http.ResponseWriter) {
		h := w.Header()
		h.Set("Connection", "X-Up-Secret, keep-alive")
		h.Set("X-Up-Secret", "1")
		h.Set("Keep-Alive", "timeout=5")
		h.Set("Proxy-Authenticate", "Basic")
		h.Set("X-End", "kept")
	})
	front := startFront(t, &gateway{p: New(Options{}), up: newUpstream(t, back.URL, nil)})

	resp, _, _ := rawExchange(t, hostOf(front), `GET /h HTTP/1.1
Host: example.com
Connection: X-Secret, keep-alive, x-lower
X-Secret: 1
X-Lower: 1
Keep-Alive: timeout=5
Proxy-Connection: keep-alive
Proxy-Authorization: Basic Zm9vOmJhcg==
Te: gzip, trailers
Trailer: X-T
Upgrade: h2c
X-End: kept

`)
	s := <-got
	for _, k := range []string{"X-Secret", "X-Lower", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Trailer", "Upgrade"} {
		if v, ok := s.header[k]; ok {
			t.Errorf("upstream got hop-by-hop %s: %q", k, v)
		}
	}
	if v := s.header.Get("Connection"); v != "" {
		t.Errorf("upstream got Connection %q", v) // Go's client adds none on keep-alive
	}
	if v := s.header.Get("Te"); v != "trailers" {
		t.Errorf("upstream Te = %q, want only trailers", v)
	}
	if s.header.Get("X-End") != "kept" {
		t.Error("end-to-end request header lost")
	}
	for _, k := range []string{"X-Up-Secret", "Keep-Alive", "Proxy-Authenticate"} {
		if v, ok := resp.Header[k]; ok {
			t.Errorf("client got hop-by-hop %s: %q", k, v)
		}
	}
	if resp.Header.Get("X-End") != "kept" {
		t.Error("end-to-end response header lost")
	}
	if resp.Header.Get("Connection") != "" {
		t.Errorf("client got Connection %q", resp.Header.Get("Connection"))
	}
}

func TestForwardedUntrustedDropsSpoofed(t *testing.T) {
	back, got := recordingBackend(t, nil)
	front := startFront(t, &gateway{p: New(Options{}), up: newUpstream(t, back.URL, nil)})

	req, _ := http.NewRequest("GET", front.URL+"/x", nil)
	req.Host = "api.example.com"
	req.Header.Set("X-Forwarded-For", "6.6.6.6")
	req.Header.Set("Forwarded", "for=6.6.6.6")
	req.Header.Set("X-Real-IP", "6.6.6.6")
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("X-Forwarded-Host", "evil.example")
	do(t, req)
	s := <-got
	want := map[string]string{
		"X-Forwarded-For":   "127.0.0.1",
		"Forwarded":         "for=127.0.0.1;host=api.example.com;proto=http",
		"X-Real-Ip":         "127.0.0.1",
		"X-Forwarded-Proto": "http",
		"X-Forwarded-Host":  "api.example.com",
	}
	for k, v := range want {
		if g := s.header.Values(k); len(g) != 1 || g[0] != v {
			t.Errorf("%s = %q, want [%q]", k, g, v)
		}
	}
}

func TestForwardedTrustedAppends(t *testing.T) {
	back, got := recordingBackend(t, nil)
	g := &gateway{p: New(Options{}), up: newUpstream(t, back.URL, nil), trusted: true,
		clientIP: netip.MustParseAddr("203.0.113.7")}
	front := startFront(t, g)

	req, _ := http.NewRequest("GET", front.URL+"/x", nil)
	req.Host = "api.example.com:8443"
	req.Header.Add("X-Forwarded-For", "203.0.113.7")
	req.Header.Add("X-Forwarded-For", "198.51.100.1")
	req.Header.Set("Forwarded", `for=203.0.113.7;proto=https`)
	req.Header.Set("X-Forwarded-Proto", "https")
	do(t, req)
	s := <-got
	want := map[string]string{
		"X-Forwarded-For":   "203.0.113.7, 198.51.100.1, 127.0.0.1",
		"Forwarded":         `for=203.0.113.7;proto=https, for=127.0.0.1;host="api.example.com:8443";proto=http`,
		"X-Real-Ip":         "203.0.113.7",
		"X-Forwarded-Proto": "https",
		"X-Forwarded-Host":  "api.example.com:8443",
	}
	for k, v := range want {
		if g := s.header.Values(k); len(g) != 1 || g[0] != v {
			t.Errorf("%s = %q, want [%q]", k, g, v)
		}
	}
}

func TestForwardedIPv6Quoted(t *testing.T) {
	for _, tc := range []struct{ remote, xff, fwd string }{
		{"[2001:db8::1]:5678", "2001:db8::1", `for="[2001:db8::1]";host=h;proto=https`},
		{"[::ffff:192.0.2.9]:1", "192.0.2.9", `for=192.0.2.9;host=h;proto=https`},
		{"192.0.2.1:80", "192.0.2.1", `for=192.0.2.1;host=h;proto=https`},
		{"pipe", "", `for=unknown;host=h;proto=https`},
	} {
		in := httptest.NewRequest("GET", "https://h/", nil)
		in.RemoteAddr = tc.remote
		h := http.Header{}
		var tr trip
		tr.setForwarding(h, in, netip.Addr{}, false)
		if g := h.Get("X-Forwarded-For"); g != tc.xff {
			t.Errorf("%s: X-Forwarded-For = %q, want %q", tc.remote, g, tc.xff)
		}
		if g := h.Get("Forwarded"); g != tc.fwd {
			t.Errorf("%s: Forwarded = %q, want %q", tc.remote, g, tc.fwd)
		}
	}
}

func TestHostPreserveOrReplace(t *testing.T) {
	back, got := recordingBackend(t, nil)
	for _, preserve := range []bool{false, true} {
		front := startFront(t, &gateway{p: New(Options{PreserveHost: preserve}), up: newUpstream(t, back.URL, nil)})
		req, _ := http.NewRequest("GET", front.URL+"/", nil)
		req.Host = "api.example.com"
		do(t, req)
		want := hostOf(back)
		if preserve {
			want = "api.example.com"
		}
		if s := <-got; s.host != want {
			t.Errorf("preserve=%v: upstream Host = %q, want %q", preserve, s.host, want)
		}
	}
}

func TestPathEscapesAndQueryPreserved(t *testing.T) {
	back, got := recordingBackend(t, nil)
	for _, base := range []string{"", "/base"} {
		front := startFront(t, &gateway{p: New(Options{}), up: newUpstream(t, back.URL+base, nil)})
		for _, uri := range []string{
			"/a%20b/c%3Fd",
			"/x%2Fy/z",
			"/p%3fq",
			"/plain/path",
			"/q?b=2&a=1&c=%2f&d&e=%20",
			"/a%2Fb?x=%3D",
			"/empty?",
		} {
			resp, _, _ := rawExchange(t, hostOf(front), "GET "+uri+" HTTP/1.1\nHost: h\n\n")
			resp.Body.Close()
			if s := <-got; s.requestURI != base+uri {
				t.Errorf("base %q: upstream got %q, want %q", base, s.requestURI, base+uri)
			}
		}
	}
}

func TestRequestBodyStreams(t *testing.T) {
	// The upstream reads the first part and says so; only then does the
	// client send the rest: a proxy that buffered would deadlock.
	firstRead := make(chan struct{})
	back := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		part := make([]byte, 1<<20)
		if _, err := io.ReadFull(r.Body, part); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		close(firstRead)
		h := sha256.New()
		h.Write(part)
		n, _ := io.Copy(h, r.Body)
		w.Header().Set("X-Len", strconv.FormatInt(n+int64(len(part)), 10))
		w.Header().Set("X-Trailer", r.Trailer.Get("X-Checksum"))
		io.WriteString(w, hex.EncodeToString(h.Sum(nil)))
	})
	front := startFront(t, &gateway{p: New(Options{ReadTimeout: 10e9}), up: newUpstream(t, back.URL, nil)})

	pr, pw := io.Pipe()
	sum := sha256.New()
	go func() {
		chunk := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
		sum.Write(chunk)
		pw.Write(chunk)
		<-firstRead
		for i := range 7 {
			chunk[0] = byte(i)
			sum.Write(chunk)
			pw.Write(chunk)
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", front.URL+"/upload", pr)
	req.Trailer = http.Header{"X-Checksum": nil}
	req.Trailer.Set("X-Checksum", "abc") // sent after the body
	resp := do(t, req)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("X-Len") != strconv.Itoa(8<<20) {
		t.Fatalf("status %d, len %s, body %.80s", resp.StatusCode, resp.Header.Get("X-Len"), body)
	}
	if string(body) != hex.EncodeToString(sum.Sum(nil)) {
		t.Error("body corrupted on the way")
	}
	if resp.Header.Get("X-Trailer") != "abc" {
		t.Errorf("request trailer lost: %q", resp.Header.Get("X-Trailer"))
	}
}

func TestRequestBodyWithLength(t *testing.T) {
	back := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%d %d %q", r.ContentLength, len(b), r.TransferEncoding)
	})
	front := startFront(t, &gateway{p: New(Options{}), up: newUpstream(t, back.URL, nil)})
	resp, err := http.Post(front.URL, "text/plain", strings.NewReader(strings.Repeat("x", 100000)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != `100000 100000 []` {
		t.Errorf("upstream saw %s", b)
	}
	// And no body stays no body: not even an empty chunked one.
	resp, err = http.Post(front.URL, "text/plain", http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != `0 0 []` {
		t.Errorf("upstream saw %s for an empty body", b)
	}
}

func TestUnreadRequestBodyClosesClient(t *testing.T) {
	back := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusRequestEntityTooLarge) // answers without reading
	})
	p := New(Options{})
	const size = 256 << 20 // far beyond what socket buffers can absorb
	r := httptest.NewRequest("POST", "/", io.LimitReader(zeros{}, size))
	r.ContentLength = size
	w := httptest.NewRecorder()
	x := &filter.Exchange{Request: r}
	resp, perr := p.RoundTrip(w, x, newUpstream(t, back.URL, nil), false)
	if perr != nil {
		t.Fatal(perr)
	}
	x.Response = &filter.Response{Status: resp.StatusCode, Header: resp.Header}
	if err := p.WriteResponse(w, r, x, resp); err != nil {
		t.Fatal(err)
	}
	if w.Code != 413 || w.Header().Get("Connection") != "close" {
		t.Errorf("status %d, Connection %q; want 413 and close", w.Code, w.Header().Get("Connection"))
	}
	// Read to its end, the same body leaves the connection reusable.
	back2 := startBackend(t, func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) })
	r = httptest.NewRequest("POST", "/", strings.NewReader("small"))
	w = httptest.NewRecorder()
	x = &filter.Exchange{Request: r}
	if resp, perr = p.RoundTrip(w, x, newUpstream(t, back2.URL, nil), false); perr != nil {
		t.Fatal(perr)
	}
	x.Response = &filter.Response{Status: resp.StatusCode, Header: resp.Header}
	p.WriteResponse(w, r, x, resp)
	if w.Header().Get("Connection") != "" {
		t.Errorf("Connection %q after a fully read body", w.Header().Get("Connection"))
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestServerSentEventsFlushEachEvent(t *testing.T) {
	next := make(chan struct{})
	back := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
		}
	})
	front := startFront(t, &gateway{p: New(Options{WriteTimeout: 10e9}), up: newUpstream(t, back.URL, nil)})
	ctx, cancel := context.WithTimeout(context.Background(), 10e9)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", front.URL+"/events", nil)
	resp := do(t, req)
	br := bufio.NewReader(resp.Body)
	for i := range 3 {
		line, err := br.ReadString('\n')
		if err != nil || line != fmt.Sprintf("data: %d\n", i) {
			t.Fatalf("event %d: %q, %v (buffered instead of streamed?)", i, line, err)
		}
		br.ReadString('\n')
		next <- struct{}{}
	}
}

func TestEarlyHintsForwarded(t *testing.T) {
	back := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</app.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		io.WriteString(w, "final")
	})
	front := startFront(t, &gateway{p: New(Options{}), up: newUpstream(t, back.URL, nil)})
	var codes []int
	var link string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		codes = append(codes, code)
		link = h.Get("Link")
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", front.URL, nil)
	resp := do(t, req)
	body, _ := io.ReadAll(resp.Body)
	if len(codes) != 1 || codes[0] != 103 || link != "</app.css>; rel=preload" {
		t.Errorf("1xx seen: %v link %q", codes, link)
	}
	if resp.StatusCode != 200 || string(body) != "final" || resp.Header.Get("Link") != "" {
		t.Errorf("final: %d %q Link=%q", resp.StatusCode, body, resp.Header.Get("Link"))
	}
}

func TestFilterReplacedBody(t *testing.T) {
	back := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-T")
		io.WriteString(w, "original, chunked")
		w.(http.Flusher).Flush()
		w.Header().Set("X-T", "v")
	})
	g := &gateway{p: New(Options{}), up: newUpstream(t, back.URL, nil), edit: func(x *filter.Exchange) {
		x.Response.Body = []byte("replaced")
	}}
	front := startFront(t, g)
	resp := do(t, mustReq(t, "GET", front.URL))
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "replaced" || resp.ContentLength != 8 || len(resp.TransferEncoding) != 0 || len(resp.Trailer) != 0 {
		t.Errorf("got %q CL=%d TE=%v trailer=%v", body, resp.ContentLength, resp.TransferEncoding, resp.Trailer)
	}
}

func TestLocalResponse(t *testing.T) {
	p := New(Options{})
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/", nil)
	x := &filter.Exchange{Request: r, Response: filter.Error(429, "slow down")}
	if err := p.WriteResponse(rec, r, x, nil); err != nil {
		t.Fatal(err)
	}
	if rec.Code != 429 || rec.Body.String() != `{"error":"slow down","status":429}`+"\n" || rec.Header().Get("Content-Length") != "35" {
		t.Errorf("%d %q CL=%s", rec.Code, rec.Body.String(), rec.Header().Get("Content-Length"))
	}
}

func do(t *testing.T, req *http.Request) *http.Response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func mustReq(t *testing.T, method, url string) *http.Request {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
