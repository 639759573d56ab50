package hardening

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

const h2Config = `
listeners:
  - name: main
    address: "127.0.0.1:0"
    h2c: true
    max_header_bytes: 16KiB
    http2: { max_concurrent_streams: 10 }
admin: { address: "off" }
upstreams:
  rec: { targets: [{ url: "{{.rec}}" }] }
routes:
  - name: good
    match: { hosts: [good.example] }
    upstream: rec
  - name: other
    respond: { status: 404, body: "not good.example" }
`

// h2BinaryConfig is h2Config for the real binary.
var h2BinaryConfig = strings.NewReplacer(`"127.0.0.1:0"`, `"{{.listen}}"`, `admin: { address: "off" }`, `admin: { address: "{{.admin}}" }`).Replace(h2Config)

// h2conn is a raw HTTP/2 (h2c, prior knowledge) client connection: frames are
// written as the test says, with no client-side checks in the way.
type h2conn struct {
	t    *testing.T
	c    net.Conn
	fr   *http2.Framer
	next uint32
}

func dialH2(t *testing.T, addr string) *h2conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return &h2conn{t: t, c: c, fr: fr, next: 1}
}

// block encodes header fields as written, in order.
func block(fields ...string) []byte {
	var b bytes.Buffer
	enc := hpack.NewEncoder(&b)
	for i := 0; i+1 < len(fields); i += 2 {
		_ = enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return b.Bytes()
}

// request sends a GET with the given extra fields and returns its stream id.
func (h *h2conn) request(authority string, extra ...string) uint32 {
	id := h.next
	h.next += 2
	fields := append([]string{":method", "GET", ":scheme", "http", ":authority", authority, ":path", "/x"}, extra...)
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block(fields...), EndStream: true, EndHeaders: true}); err != nil {
		h.t.Fatal(err)
	}
	return id
}

// outcome reads frames until stream id ends: its :status, or "reset" /
// "goaway" if it was refused at the HTTP/2 layer.
func (h *h2conn) outcome(id uint32) string {
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			return "closed"
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = h.fr.WriteSettingsAck()
			}
		case *http2.MetaHeadersFrame:
			if f.StreamID == id {
				return f.PseudoValue("status")
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == id {
				return "reset"
			}
		case *http2.GoAwayFrame:
			return "goaway"
		}
	}
}

// pingPong sends a PING and reads frames until its ACK; false if the
// connection ended (or went away) first.
func (h *h2conn) pingPong() bool {
	data := [8]byte{'w', 'g'}
	if err := h.fr.WritePing(false, data); err != nil {
		return false
	}
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			return false
		}
		switch f := f.(type) {
		case *http2.PingFrame:
			if f.IsAck() && f.Data == data {
				return true
			}
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = h.fr.WriteSettingsAck()
			}
		case *http2.GoAwayFrame:
			return false
		}
	}
}

// TestH2IllegalRequestHeaders: a request HTTP/2 forbids (RFC 9113 §8.2.1,
// §8.2.2, §8.3.1) is refused, at the HTTP/2 layer or with 400, and never
// reaches the upstream; routing uses :authority.
func TestH2IllegalRequestHeaders(t *testing.T) {
	rec := newRecorder(t)
	gw := startInProcess(t, h2Config, vars{"rec": rec.URL()})

	ok := dialH2(t, gw.Addr)
	if got := ok.outcome(ok.request("good.example")); got != "200" {
		t.Fatalf("legal request: %s, want 200", got)
	}
	if n := len(rec.take()); n != 1 {
		t.Fatalf("upstream saw %d requests for the legal one", n)
	}
	if got := ok.outcome(ok.request("other.example")); got != "404" {
		t.Errorf(":authority other.example routed to %s, want the 404 route", got)
	}

	for _, c := range []struct {
		name  string
		extra []string
	}{
		{"connection", []string{"connection", "keep-alive"}},
		{"keep-alive", []string{"keep-alive", "timeout=5"}},
		{"proxy-connection", []string{"proxy-connection", "keep-alive"}},
		{"transfer-encoding", []string{"transfer-encoding", "chunked"}},
		{"upgrade", []string{"upgrade", "h2c"}},
		{"te not trailers", []string{"te", "gzip"}},
		{"uppercase name", []string{"X-Upper", "1"}},
		{"CRLF in value", []string{"x-a", "b\r\nx-injected: 1"}},
		{"LF in value", []string{"x-a", "b\nx-injected: 1"}},
		{"NUL in value", []string{"x-a", "b\x00c"}},
		{"space in name", []string{"x a", "b"}},
		{"host differs from :authority", []string{"host", "other.example"}},
		{"pseudo after regular", []string{"x-a", "b", ":method", "POST"}},
	} {
		h := dialH2(t, gw.Addr)
		got := h.outcome(h.request("good.example", c.extra...))
		switch got {
		case "reset", "goaway", "closed", "400":
		default:
			t.Errorf("%s: %s, want the request refused (RST_STREAM, GOAWAY or 400)", c.name, got)
		}
	}
	rec.settle(t)
	if got := rec.take(); len(got) != 0 {
		t.Errorf("illegal h2 requests reached the upstream: %d, first:\n%s", len(got), got[0].Head)
	}
}

// TestH2RapidReset (CVE-2023-44487): a client opening streams and
// cancelling them at once must not get more than max_concurrent_streams
// handlers (and upstream requests) running at a time, nor get its reset
// streams forwarded; its connection is closed; the gateway stays
// responsive and nothing leaks. It runs in-process (to count goroutines)
// and against the real binary, whose scheduler is its own as in
// production, so a handler races its stream's reset on another core.
func TestH2RapidReset(t *testing.T) {
	t.Run("in-process", func(t *testing.T) {
		rapidReset(t, func(up string) string { return startInProcess(t, h2Config, vars{"rec": up}).Addr }, true)
	})
	t.Run("binary", func(t *testing.T) {
		rapidReset(t, func(up string) string { return startProcess(t, h2BinaryConfig, vars{"rec": up}).Listen }, false)
	})
}

func rapidReset(t *testing.T, start func(upstream string) string, countGoroutines bool) {
	var cur, peak, total atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := cur.Add(1)
		total.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		select {
		case <-r.Context().Done():
		case <-time.After(100 * time.Millisecond):
		}
		cur.Add(-1)
	}))
	t.Cleanup(up.Close)
	addr := start(up.URL)
	runtime.GC()
	base := runtime.NumGoroutine()

	h := dialH2(t, addr)
	const streams = 5000
	sent, closed := 0, false
	for ; sent < streams; sent++ {
		id := h.next
		h.next += 2
		if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block(":method", "GET", ":scheme", "http", ":authority", "good.example", ":path", "/x"), EndStream: true, EndHeaders: true}); err != nil {
			break // the gateway hung up: also bounded
		}
		if err := h.fr.WriteRSTStream(id, http2.ErrCodeCancel); err != nil {
			break
		}
		// Every few streams, wait for a PING's answer: paced like this the
		// attack never queues more streams than the server may start, so
		// net/http's own limit on reset streams waiting to start never
		// trips, and every handler races its reset.
		if sent%5 == 4 && !h.pingPong() {
			closed = true
			break
		}
	}
	// Drain until the gateway ends the connection or goes quiet.
	_ = h.c.SetReadDeadline(time.Now().Add(3 * time.Second))
	for !closed {
		f, err := h.fr.ReadFrame()
		if err != nil {
			closed = !isTimeout(err)
			break
		}
		if _, ok := f.(*http2.GoAwayFrame); ok {
			closed = true
		}
	}
	h.c.Close()
	t.Logf("rapid reset: %d streams sent, %d reached the upstream, peak %d concurrent, connection closed: %v", sent, total.Load(), peak.Load(), closed)
	// The gateway runs at most max_concurrent_streams (10) handlers for the
	// connection. The upstream sees each cancelled request end only when it
	// notices its connection closed, a little after the gateway's handler
	// has returned and a new stream took the slot, so its own count can lag
	// above 10; without the bound it would climb toward the 5000 sent.
	if p := peak.Load(); p > 2*10 {
		t.Errorf("peak %d concurrent upstream requests from one connection, want about max_concurrent_streams (10), at most twice that", p)
	}
	// A stream reset before the gateway forwarded it is not forwarded, and
	// a connection that resets most of its streams is closed: at most a
	// stream limit's worth can slip through in the race between a handler
	// starting and its reset arriving.
	if n := total.Load(); n > 10 {
		t.Errorf("%d reset streams reached the upstream, want at most max_concurrent_streams (10)", n)
	}
	if !closed {
		t.Errorf("the connection that reset %d streams is still open, want it closed", sent)
	}

	// Still serving.
	c := &http.Client{Timeout: 5 * time.Second}
	req, _ := http.NewRequest("GET", "http://"+addr+"/x", nil)
	req.Host = "good.example"
	resp, err := c.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after the attack: %v %v", resp, err)
	}
	resp.Body.Close()
	c.CloseIdleConnections()
	if !countGoroutines {
		return
	}
	// Pooled keep-alive connections to the upstream are bounded, not
	// leaked; ending them from the upstream's side lets the count show
	// what is left of the attack itself.
	up.CloseClientConnections()
	if n := goroutines(base, 10, 5*time.Second); n > base+10 {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines: %d before, %d after the attack:\n%s", base, n, buf[:runtime.Stack(buf, true)])
	}
}

// TestH2ContinuationFlood (CVE-2023-45288): a header block that never ends
// is cut off once it passes the header limit, not buffered without bound.
func TestH2ContinuationFlood(t *testing.T) {
	rec := newRecorder(t)
	gw := startInProcess(t, h2Config, vars{"rec": rec.URL()})
	h := dialH2(t, gw.Addr)
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block(":method", "GET", ":scheme", "http", ":authority", "good.example", ":path", "/x"), EndStream: true}); err != nil {
		t.Fatal(err)
	}
	junk := block("x-junk", strings.Repeat("j", 4000))
	var written int
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		_ = h.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			if _, err := h.fr.ReadFrame(); err != nil {
				return
			}
		}
	}()
	start := time.Now()
	for written < 64<<20 {
		if err := h.fr.WriteContinuation(1, false, junk); err != nil {
			break
		}
		written += len(junk) + 9
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("connection still open 10s into a CONTINUATION flood")
	}
	t.Logf("continuation flood: connection ended after %d bytes, %v", written, time.Since(start))
	if written >= 64<<20 {
		t.Errorf("the gateway took %d bytes of one header block without ending the connection", written)
	}
	rec.settle(t)
	if n := rec.count(); n != 0 {
		t.Errorf("the flooded request reached the upstream")
	}
}
