package server

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
)

func TestFramingScanner(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want string // the request line reported as faulty, "" for none
	}{
		{"clean", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", ""},
		{"chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", ""},
		{"cl+te", "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", "POST /a HTTP/1.1"},
		{"te+cl lower", "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n", "POST / HTTP/1.1"},
		{"bare LF", "POST / HTTP/1.1\nContent-Length: 3\nTransfer-Encoding: chunked\n\n", "POST / HTTP/1.1"},
		{"http/1.0 te", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", "POST / HTTP/1.0"},
		{"http/1.0 cl", "POST / HTTP/1.0\r\nContent-Length: 1\r\n\r\nx", ""},
		{"folded", "GET / HTTP/1.1\r\nX-A: b\r\n c\r\n\r\n", "GET / HTTP/1.1"},
		{"second of two", "GET / HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", "POST /2 HTTP/1.1"},
		{"after a body", "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nx\nPOST /2 HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", "x\nPOST /2 HTTP/1.1"[2:]},
		{"indented body", "POST / HTTP/1.1\r\nContent-Length: 14\r\n\r\n{\n  \"a\": 1\n}\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", ""},
		{"h2c preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nGET / HTTP/1.1\ncontent-length:\ntransfer-encoding:\n\n", ""},
	}
	for _, c := range cases {
		// Every split of the input into two reads must give the same verdict.
		for cut := 0; cut <= len(c.in); cut++ {
			var s framingScanner
			got := ""
			report := func(line []byte) { got = string(line) }
			s.feed([]byte(c.in[:cut]), report)
			if !s.off {
				s.feed([]byte(c.in[cut:]), report)
			}
			if got != c.want {
				t.Fatalf("%s split at %d: reported %q, want %q", c.name, cut, got, c.want)
			}
		}
	}
}

// TestFramingConflictRefusedAndClosed: net/http alone would read a CL+TE
// request as chunked and keep the connection open (RFC 9112 §6.3 says to
// treat it as an error); the server refuses it and closes. The same for
// Transfer-Encoding on HTTP/1.0 (§6.1: close after processing).
func TestFramingConflictRefusedAndClosed(t *testing.T) {
	var served atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	})
	s := newServer(t, h, config.Listener{Name: "plain", Address: "127.0.0.1:0"})
	addr := addrOf(t, s, "plain")

	for _, req := range []string{
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n Transfer-Encoding: chunked\r\n\r\n",
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		// A valid request pipelined behind must not be answered.
		io.WriteString(conn, req+"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%q: %v", firstLine(req), err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "framed") {
			t.Errorf("%q: %d %s, want 400 naming the framing", firstLine(req), resp.StatusCode, body)
		}
		if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
			t.Errorf("%q: connection not closed after the refusal: read %q, %v", firstLine(req), rest, err)
		}
		conn.Close()
	}
	if n := served.Load(); n != 0 {
		t.Errorf("handler ran %d times, want 0", n)
	}

	// A clean chunked request keeps its connection (plain listener).
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
	br := bufio.NewReader(conn)
	for i := 0; i < 2; i++ {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("clean request %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 200 {
			t.Errorf("clean request %d: %d", i, resp.StatusCode)
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}
