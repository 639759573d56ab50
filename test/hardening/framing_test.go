package hardening

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

const framingConfig = `
listeners: [{ name: main, address: "127.0.0.1:0", timeouts: { read_header: 2s, read: 2s } }]
admin: { address: "off" }
upstreams:
  rec: { targets: [{ url: "{{.rec}}" }] }
routes:
  - name: all
    upstream: rec
`

// outcome is what a raw request may lead to.
type outcome int

const (
	rejected  outcome = iota + 1 // an error status and nothing forwarded
	forwarded                    // exactly one well-framed request upstream
)

// smuggled is what the test hides behind a request, under the framing the
// gateway must not use. If the upstream ever sees it as a request of its own,
// one client request became two.
const smuggled = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"

// TestRequestFraming sends the known request-smuggling classes (RFC 9112 §6,
// §11.2) over raw sockets. Each is either refused with an error status and
// nothing forwarded, or forwarded as exactly one well-framed request; the
// upstream never sees both framings nor a request that was hidden in a body;
// and a request that carried both Content-Length and Transfer-Encoding ends
// its connection.
func TestRequestFraming(t *testing.T) {
	rec := newRecorder(t)
	gw := startInProcess(t, framingConfig, vars{"rec": rec.URL()})
	checkFraming(t, gw.Addr, rec)
}

// checkFraming runs TestRequestFraming's cases against the gateway at addr
// whose only upstream is rec.
func checkFraming(t *testing.T, addr string, rec *recorder) {
	post := "POST /x HTTP/1.1\r\nHost: a\r\n"
	chunkedSmuggle := "0\r\n\r\n" + smuggled
	cases := []struct {
		name  string
		raw   string
		want  outcome
		body  string // for forwarded: the body the upstream must see
		close bool   // the connection must be closed after the response
	}{
		// CL.TE and TE.CL: whichever framing a front proxy used, ours must
		// not split the bytes differently and keep going.
		{name: "CL.TE", raw: post + "Content-Length: " + itoa(len(chunkedSmuggle)) + "\r\nTransfer-Encoding: chunked\r\n\r\n" + chunkedSmuggle, want: rejected, close: true},
		{name: "TE.CL", raw: post + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n" + "5c\r\n" + smuggled + strings.Repeat("x", 0x5c-len(smuggled)) + "\r\n0\r\n\r\n", want: rejected, close: true},
		{name: "CL.TE lower-case", raw: post + "content-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n", want: rejected, close: true},
		// TE.TE: obfuscated Transfer-Encoding values one parser may honor
		// and another ignore.
		{name: "TE twice", raw: post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", want: rejected, close: true},
		{name: "TE list", raw: post + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", want: rejected, close: true},
		{name: "TE xchunked", raw: post + "Transfer-Encoding: xchunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", want: rejected, close: true},
		{name: "TE space before colon", raw: post + "Transfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", want: rejected, close: true},
		{name: "TE vertical tab", raw: post + "Transfer-Encoding:\x0bchunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", want: rejected, close: true},
		{name: "TE folded", raw: post + "X-A: b\r\n Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", want: rejected, close: true},
		{name: "TE quoted", raw: post + "Transfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n", want: rejected, close: true},
		{name: "TE upper-case value", raw: post + "Transfer-Encoding: CHUNKED\r\n\r\n3\r\nabc\r\n0\r\n\r\n", want: forwarded, body: "abc"},
		{name: "TE tab value", raw: post + "Transfer-Encoding:\tchunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", want: forwarded, body: "abc"},
		// Content-Length oddities.
		{name: "CL duplicate equal", raw: post + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc", want: forwarded, body: "abc"},
		{name: "CL duplicate different", raw: post + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", want: rejected, close: true},
		{name: "CL list", raw: post + "Content-Length: 3, 3\r\n\r\nabc", want: rejected, close: true},
		{name: "CL plus sign", raw: post + "Content-Length: +3\r\n\r\nabc", want: rejected, close: true},
		{name: "CL hex", raw: post + "Content-Length: 0x3\r\n\r\nabc", want: rejected, close: true},
		{name: "CL negative", raw: post + "Content-Length: -1\r\n\r\n", want: rejected, close: true},
		{name: "CL overflow", raw: post + "Content-Length: 99999999999999999999\r\n\r\n", want: rejected, close: true},
		{name: "CL empty", raw: post + "Content-Length: \r\n\r\n", want: rejected, close: true},

		// HTTP/1.0 with Transfer-Encoding (§6.1: faulty framing, close).
		{name: "HTTP/1.0 TE", raw: "POST /x HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n" + chunkedSmuggle, want: rejected, close: true},
		{name: "HTTP/1.0 TE+CL", raw: "POST /x HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", want: rejected, close: true},
		// Bad chunk lines.
		{name: "chunk size hex prefix", raw: post + "Transfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n", want: rejected, close: true},
		{name: "chunk size negative", raw: post + "Transfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n", want: rejected, close: true},
		{name: "chunk size overflow", raw: post + "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\nabc\r\n0\r\n\r\n", want: rejected, close: true},
		{name: "chunk data longer than size", raw: post + "Transfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n", want: rejected, close: true},
		{name: "chunk extension", raw: post + "Transfer-Encoding: chunked\r\n\r\n3;name=value\r\nabc\r\n0\r\n\r\n", want: forwarded, body: "abc"},
		{name: "chunk missing terminator", raw: post + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", want: rejected, close: true},
		// Folded headers, bare CR, NUL.
		{name: "obs-fold", raw: post + "X-A: b\r\n c\r\nContent-Length: 0\r\n\r\n", want: rejected, close: true},
		{name: "bare CR in value", raw: post + "X-A: b\rc\r\nContent-Length: 0\r\n\r\n", want: rejected, close: true},
		{name: "bare CR line end", raw: post + "X-A: b\rContent-Length: 0\r\n\r\n", want: rejected, close: true},
		{name: "NUL in value", raw: post + "X-A: b\x00c\r\nContent-Length: 0\r\n\r\n", want: rejected, close: true},
		{name: "space in name", raw: post + "X A: b\r\nContent-Length: 0\r\n\r\n", want: rejected, close: true},
		{name: "two Host", raw: "GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", want: rejected, close: true},
		{name: "no Host on 1.1", raw: "GET /x HTTP/1.1\r\n\r\n", want: rejected, close: true},
		// A clean request with a body keeps its connection.
		{name: "clean chunked", raw: post + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", want: forwarded, body: "abc"},
		{name: "clean CL", raw: post + "Content-Length: 3\r\n\r\nabc", want: forwarded, body: "abc"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec.take()
			raw := c.raw
			if !c.close {
				// Pipelined behind a request that keeps its connection, a
				// probe must be answered in order.
				raw += "GET /probe HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
			}
			// Every case ends with the gateway closing the connection (after
			// the attack, or after the probe, which asks for it), so the
			// wait is an upper bound, not a guess at when answers are done:
			// an idle of 3s raced the listener's 2s read timeout that ends
			// the unterminated-chunk case.
			resps, closed := exchange(t, addr, raw, 30*time.Second)
			rec.settle(t) // everything the upstream got for it is filed
			got := rec.take()
			for _, r := range got {
				if r.Err != "" {
					t.Errorf("upstream got a malformed request (%s):\n%s", r.Err, r.Head)
				}
				if strings.HasPrefix(r.URI, "/smuggled") {
					t.Errorf("a request hidden in the body reached the upstream on its own:\n%s", r.Head)
				}
			}
			var complete []recorded
			for _, r := range got {
				if r.Complete && r.URI != "/probe" {
					complete = append(complete, r)
				}
			}
			if len(resps) == 0 {
				t.Fatalf("no response (closed=%v)", closed)
			}
			first := resps[0]
			switch c.want {
			case rejected:
				if first.Status < 400 {
					t.Errorf("status %d, want an error status; body %q", first.Status, first.Body)
				}
				if len(complete) != 0 {
					t.Errorf("upstream received %d complete request(s), want none: %+v", len(complete), complete)
				}
			case forwarded:
				if first.Status != 200 {
					t.Errorf("status %d, want 200; body %q", first.Status, first.Body)
				}
				if len(complete) != 1 {
					t.Fatalf("upstream received %d complete request(s), want exactly 1", len(complete))
				}
				if string(complete[0].Body) != c.body {
					t.Errorf("upstream body %q, want %q", complete[0].Body, c.body)
				}
				if !c.close && (len(resps) != 2 || resps[1].Status != 200) {
					t.Errorf("the pipelined probe was not answered after the request: %d responses", len(resps))
				}
			}
			if c.close && !closed {
				t.Errorf("connection left open after the response; want it closed")
			}
			if c.close && len(resps) > 1 {
				t.Errorf("%d responses on a connection that should have closed after the first", len(resps))
			}
		})
	}
}

func itoa(n int) string {
	const digits = "0123456789"
	if n < 10 {
		return digits[n : n+1]
	}
	return itoa(n/10) + digits[n%10:n%10+1]
}

// TestTruncatedBodyNeverAnswered200: a client that ends its side of the
// connection mid-body is gone as far as the exchange is concerned, but it may
// still be reading. It must not get a 200 that net/http makes up for a
// handler that wrote nothing: the gateway aborts the connection instead.
func TestTruncatedBodyNeverAnswered200(t *testing.T) {
	rec := newRecorder(t)
	gw := startInProcess(t, framingConfig, vars{"rec": rec.URL()})
	checkTruncatedBodies(t, gw.Addr, rec)
}

func checkTruncatedBodies(t *testing.T, addr string, rec *recorder) {
	for _, raw := range []string{
		"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc",
		"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(conn, raw)
		conn.(*net.TCPConn).CloseWrite()
		got, _ := io.ReadAll(conn)
		conn.Close()
		rec.settle(t)
		if bytes.HasPrefix(got, []byte("HTTP/1.1 2")) {
			t.Errorf("%q: answered %q for a body that never arrived", firstLine(raw), firstLine(string(got)))
		}
		for _, r := range rec.take() {
			if r.Complete {
				t.Errorf("%q: the upstream got a complete request %q", firstLine(raw), r.Body)
			}
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}
