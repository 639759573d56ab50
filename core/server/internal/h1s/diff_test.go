package h1s

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// The differential test: every request of a generated corpus goes, as raw
// bytes, to a net/http server and to this engine, each with a handler that
// records what it was given. They must agree on whether the request reached
// the handler (or, refused, on the status), and on everything a handler
// sees: method, target, URL, version, Host, header fields, Content-Length,
// Transfer-Encoding, Close, the body and the trailers.

// record is what a handler saw, as text.
func record(r *http.Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q %#v %s %d.%d host=%q cl=%d te=%q close=%v\n", r.Method, r.RequestURI, *r.URL, r.Proto, r.ProtoMajor, r.ProtoMinor, r.Host, r.ContentLength, r.TransferEncoding, r.Close)
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%q=%q\n", k, r.Header[k])
	}
	body, err := io.ReadAll(r.Body)
	fmt.Fprintf(&b, "body=%q err=%v\n", body, err != nil)
	keys = keys[:0]
	for k := range r.Trailer {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "trailer %q=%q\n", k, r.Trailer[k])
	}
	return b.String()
}

type recorder struct{ got chan string }

func (h recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.got <- record(r)
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, "ok")
}

// outcome is one server's answer to a raw request.
type outcome struct {
	handled string // what the handler recorded, "" if it was not called
	status  int    // of the first final response, 0 if none
}

// startServers starts net/http's server and this engine, each with a
// recorder. The channels have room for every request a pipelined input may
// hold: a handler blocked on a full one would stall the exchange.
func startServers(t testing.TB) (std, native string, stdGot, nativeGot chan string) {
	stdGot, nativeGot = make(chan string, 4096), make(chan string, 4096)
	l1, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: recorder{stdGot}, ReadHeaderTimeout: 5 * time.Second, ErrorLog: nil}
	ns := &Server{Handler: recorder{nativeGot}, ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(l1)
	go ns.Serve(l2)
	t.Cleanup(func() { hs.Close(); l2.Close(); ns.Close() })
	return l1.Addr().String(), l2.Addr().String(), stdGot, nativeGot
}

// exchange sends raw, half-closes, and reads the first final response.
func exchangeRaw(t *testing.T, addr, raw string, got chan string) outcome {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	var o outcome
	br := bufio.NewReader(c)
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 200 && o.status == 0 {
			o.status = resp.StatusCode
		}
	}
	// The server has closed the connection: every request it handled
	// is recorded.
	for {
		select {
		case r := <-got:
			o.handled += r
		default:
			return o
		}
	}
}

var (
	requestLines = []string{
		"GET / HTTP/1.1", "GET /a/b?c=d&e HTTP/1.1", "GET /a HTTP/1.0", "POST /p HTTP/1.1", "get / HTTP/1.1",
		"GET  / HTTP/1.1", "GET / HTTP/1.2", "GET / HTTP/2.0", "GET / HTTP/1.1 ", "GET /", "GET / HTTP/1.1 x",
		"PRI * HTTP/2.0", "GET http://other.example/x?y HTTP/1.1", "CONNECT a.example:443 HTTP/1.1",
		"OPTIONS * HTTP/1.1", "GET /%zz HTTP/1.1", "GET /%41%2F HTTP/1.1", "G(T / HTTP/1.1", "GET /\x01 HTTP/1.1",
		"GET /\xc3\xa9 HTTP/1.1", "GET a HTTP/1.1", "GET //x HTTP/1.1", " GET / HTTP/1.1", "GET / http/1.1",
		"GET /#f HTTP/1.1", "HEAD / HTTP/1.1", "DELETE /x HTTP/1.0", "GET / HTTP/1.1\r",
	}
	fieldLines = []string{
		"Host: a.example", "Host: a.example", "host: b.example:8080", "Host: bad host", "Host: a/b", "Host:",
		"X-Lower: v", "x-lower: w", "X-Trim:   v  \t", "X-Empty:", ": novalue", "X Bad: v", "X-Ctl: a\x01b",
		"X-Obs: a\x80b", "X-Del: a\x7fb", " folded", "\tfolded", "X-Fold: a", "Content-Length: 5", "Content-Length: 05",
		"Content-Length: +5", "Content-Length: 5, 5", "Content-Length: 3", "content-length: 5", "Content-Length: ",
		"Content-Length: 99999999999999999999", "Transfer-Encoding: chunked", "Transfer-Encoding: gzip",
		"Transfer-Encoding: chunked, identity", "transfer-encoding: CHUNKED", "Connection: close",
		"Connection: keep-alive", "Connection: Upgrade, close", "Pragma: no-cache", "Cache-Control: max-age=0",
		"Trailer: X-T", "Expect: 100-continue", "Expect: foo", "Cookie: a=1", "Cookie: b=2", "X_Under: v",
		"ACCEPT-encoding: gzip", "X-Wide: \xff\xfe", "X-Sp : v", "X-Tab:\tv\t", "Upgrade: websocket",
		"X-Long: " + strings.Repeat("v", 3000),
	}
	bodies = []string{"", "hello", "5\r\nhello\r\n0\r\n\r\n", "5\r\nhello\r\n0\r\nX-T: t\r\n\r\n", "3;ext=1\r\nabc\r\n0\r\n\r\n", "zz\r\n", "hel"}
)

func TestDifferentialCorpus(t *testing.T) {
	std, native, stdGot, nativeGot := startServers(t)
	rng := rand.New(rand.NewPCG(1, 15))
	var cases []string
	for _, rl := range requestLines {
		cases = append(cases, rl+"\r\nHost: a\r\n\r\n", rl+"\r\n\r\n", rl+"\n\n")
	}
	for _, fl := range fieldLines {
		for _, b := range bodies {
			cases = append(cases, "POST / HTTP/1.1\r\nHost: a\r\n"+fl+"\r\n\r\n"+b)
		}
		cases = append(cases, "GET / HTTP/1.0\r\n"+fl+"\r\n\r\n", "GET / HTTP/1.1\r\n"+fl+"\nHost: a\r\n\r\n")
	}
	n := 1500
	if testing.Short() {
		n = 200
	}
	for range n {
		var b strings.Builder
		b.WriteString(requestLines[rng.IntN(len(requestLines))])
		b.WriteString("\r\n")
		for range rng.IntN(5) {
			b.WriteString(fieldLines[rng.IntN(len(fieldLines))])
			if rng.IntN(20) == 0 {
				b.WriteString("\n")
			} else {
				b.WriteString("\r\n")
			}
		}
		b.WriteString("\r\n")
		b.WriteString(bodies[rng.IntN(len(bodies))])
		cases = append(cases, b.String())
	}
	fails := 0
	for i, raw := range cases {
		a := exchangeRaw(t, std, raw, stdGot)
		b := exchangeRaw(t, native, raw, nativeGot)
		if (a.handled == "") != (b.handled == "") || a.handled != b.handled || a.status != b.status {
			t.Errorf("case %d %q:\nnet/http: status %d\n%s\nnative:   status %d\n%s", i, raw, a.status, a.handled, b.status, b.handled)
			if fails++; fails > 10 {
				t.FailNow()
			}
		}
	}
	t.Logf("%d requests compared", len(cases))
}

// FuzzDifferential sends generated raw requests to net/http's server and to
// this engine, and compares them as TestDifferentialCorpus does: the same
// requests reach the handler with the same fields and body, or both are
// refused with the same status. Seeded with that test's corpus.
func FuzzDifferential(f *testing.F) {
	for _, rl := range requestLines {
		f.Add(rl + "\r\nHost: a\r\n\r\n")
	}
	for _, fl := range fieldLines { // TestDifferentialCorpus has them with every body
		f.Add("POST / HTTP/1.1\r\nHost: a\r\n" + fl + "\r\n\r\n" + "hello")
	}
	f.Add("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n")
	std, native, stdGot, nativeGot := startServers(f) // one pair for the whole run
	f.Fuzz(func(t *testing.T, raw string) {
		a := exchangeRaw(t, std, raw, stdGot)
		b := exchangeRaw(t, native, raw, nativeGot)
		if a.handled != b.handled || a.status != b.status {
			t.Errorf("%q:\nnet/http: status %d\n%s\nnative:   status %d\n%s", raw, a.status, a.handled, b.status, b.handled)
		}
	})
}
