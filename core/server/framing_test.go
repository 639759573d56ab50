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

// verdicts is a sink that records what the scanner finds.
type verdicts struct {
	got      []verdict
	dead, h2 bool
}

func (v *verdicts) push(x verdict) { v.got = append(v.got, x) }
func (v *verdicts) stop(h2c bool) {
	if h2c {
		v.h2 = true
	} else {
		v.dead = true
	}
}

// faults lists the verdicts: "ok" or the fault, one per head.
func (v *verdicts) faults() string {
	var out []string
	for _, x := range v.got {
		if x.fault == "" {
			out = append(out, "ok")
		} else {
			out = append(out, x.fault)
		}
	}
	return strings.Join(out, "|")
}

func TestFramingScanner(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want string // the verdicts in order, "ok" or a fragment of the fault
		body string // a fragment of the body fault, "" for none
	}{
		{"clean", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", "ok", ""},
		{"chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\nGET / HTTP/1.1\r\n\r\n", "ok|ok", ""},
		{"cl+te", "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", "both", ""},
		{"te+cl lower", "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n", "both", ""},
		{"bare LF", "POST / HTTP/1.1\nContent-Length: 3\nTransfer-Encoding: chunked\n\n", "bare LF", ""},
		{"bare LF field", "POST / HTTP/1.1\r\nX: y\nContent-Length: 3\r\n\r\n", "bare LF", ""},
		{"http/1.0 te", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", "HTTP/1.0", ""},
		{"http/1.0 cl", "POST / HTTP/1.0\r\nContent-Length: 1\r\n\r\nx", "ok", ""},
		{"http/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", "version", ""},
		{"folded", "GET / HTTP/1.1\r\nX-A: b\r\n c\r\n\r\n", "obs-fold", ""},
		{"space before colon", "GET / HTTP/1.1\r\nContent-Length : 5\r\n\r\n", "colon", ""},
		{"te list", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "other than chunked", ""},
		{"two te", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", "more than one", ""},
		{"cl plus", "POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\nabc", "decimal", ""},
		{"cl differ", "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc", "differ", ""},
		{"cl same", "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length:  3 \r\n\r\nabcGET / HTTP/1.1\r\n\r\n", "ok|ok", ""},
		{"header line in a value", "GET / HTTP/1.1\r\nX-Fake: z HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", "both", ""},
		{"request line in a body", "POST / HTTP/1.1\r\nContent-Length: 45\r\n\r\nGET /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nGET / HTTP/1.1\r\n\r\n", "ok|ok", ""},
		{"crlf after post", "POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx\r\nGET / HTTP/1.1\r\n\r\n", "ok|ok", ""},
		{"chunk size space", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n", "ok", "chunk-size"},
		{"chunk bare LF", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", "ok", "chunk-size"},
		{"chunk data LF", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n", "ok", "CRLF"},
		{"chunk 0x", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n", "ok", "chunk-size"},
		{"trailer fold", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: b\r\n c\r\n\r\n", "ok", "obs-fold"},
		{"h2c preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nGET / HTTP/1.1\ncontent-length:\ntransfer-encoding:\n\n", "", ""},
		{"late preface", "GET / HTTP/1.1\r\n\r\nPRI * HTTP/2.0\r\n\r\n", "ok|version", ""},
	}
	for _, c := range cases {
		// Every split of the input into two reads must give the same verdicts.
		for cut := 0; cut <= len(c.in); cut++ {
			var s framingScanner
			var v verdicts
			_, err := s.feed([]byte(c.in[:cut]), &v)
			if err == nil {
				_, err = s.feed([]byte(c.in[cut:]), &v)
			}
			got := v.faults()
			if !matchVerdicts(got, c.want) {
				t.Fatalf("%s split at %d: verdicts %q, want %q", c.name, cut, got, c.want)
			}
			switch {
			case c.body == "" && err != nil:
				t.Fatalf("%s split at %d: body fault %v, want none", c.name, cut, err)
			case c.body != "" && (err == nil || !strings.Contains(err.Error(), c.body)):
				t.Fatalf("%s split at %d: body fault %v, want one naming %q", c.name, cut, err, c.body)
			}
		}
	}
}

// matchVerdicts compares "|"-separated verdicts with wanted fragments.
func matchVerdicts(got, want string) bool {
	g, w := strings.Split(got, "|"), strings.Split(want, "|")
	if len(g) != len(w) {
		return false
	}
	for i := range g {
		if w[i] == "ok" && g[i] != "ok" || w[i] != "ok" && !strings.Contains(g[i], w[i]) {
			return false
		}
	}
	return true
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
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "framing") {
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
