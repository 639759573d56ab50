package server

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// The framing scanner is checked by difference against net/http's own
// request parser, which decides what the gateway serves: for any bytes, every
// request net/http would hand the guard must be one the scanner saw at the
// same place (its verdict's request line matches), or one that follows a
// verdict the guard refuses. A request net/http reads that the scanner did
// not see at that position is a disagreement: the guard would refuse it (it
// is never served), but the test fails on it so that none stays unexplained.

// referenceLines returns the request lines net/http's server loop reads
// from data, in order, reading each body whole as the gateway does. It stops
// where net/http would close the connection.
func referenceLines(data []byte) []string {
	br := bufio.NewReader(bytes.NewReader(data))
	var lines []string
	lastPOST := false
	for {
		if lastPOST { // server.go: RFC 7230 §3 tolerance after a POST
			peek, _ := br.Peek(4)
			n := 0
			for n < len(peek) && (peek[n] == '\r' || peek[n] == '\n') {
				n++
			}
			br.Discard(n)
		}
		r, err := http.ReadRequest(br)
		if err != nil {
			return lines
		}
		if r.ProtoMajor != 1 { // http1ServerSupportsRequest: PRI * HTTP/2.0 closes
			return append(lines, r.Method+" "+r.RequestURI+" "+r.Proto)
		}
		lines = append(lines, r.Method+" "+r.RequestURI+" "+r.Proto)
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return lines
		}
		if r.Close {
			return lines
		}
		lastPOST = r.Method == "POST"
	}
}

// scanSplit runs the scanner over data in reads of the given sizes
// (cycled) and returns its verdicts, whether it stopped, and how many bytes
// it let through before a body fault (len(data) without one).
func scanSplit(data []byte, sizes []int) (v verdicts, passed int) {
	var s framingScanner
	for i, k := 0, 0; i < len(data); k++ {
		n := len(data) - i
		if len(sizes) > 0 {
			n = min(n, max(1, sizes[k%len(sizes)]))
		}
		ok, err := s.feed(data[i:i+n], &v)
		if err != nil {
			return v, i + ok
		}
		i += n
	}
	return v, len(data)
}

// checkAgreement fails t when the scanner and net/http disagree on data.
func checkAgreement(t *testing.T, data []byte, sizes []int) {
	t.Helper()
	v, passed := scanSplit(data, sizes)
	ref := referenceLines(data[:passed])
	for i, line := range ref {
		if i >= len(v.got) {
			if v.dead || v.h2 {
				return // refused: nothing more is served on the connection
			}
			t.Fatalf("net/http read request %d %q that the scanner did not see\ninput %q\nverdicts %s", i, line, data, v.faults())
		}
		if v.got[i].fault != "" {
			return // refused, and the connection closed
		}
		if h := fnvString(fnvOffset, line); h != v.got[i].line {
			t.Fatalf("request %d: net/http read %q where the scanner read another request line\ninput %q\nverdicts %s", i, line, data, v.faults())
		}
	}
}

// framingSeeds are heads and bodies of the kinds smuggling is made of.
var framingSeeds = []string{
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /s HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nX-Fake: z HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /s HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST / HTTP/1.2\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /s HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nX: y\r\n Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\nGET /s HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST / HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\n\n5\r\nhello\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\nGET /s HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nTrailer: x\r\n\r\nGET /s HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\nGET /s HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx\r\n\r\nGET /s HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 4\r\n\r\nGET /s HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\nGET /s HTTP/1.1\r\nHost: a\r\n\r\n",
	"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
}

func TestFramingAgreesWithNetHTTP(t *testing.T) {
	splits := [][]int{nil, {1}, {2}, {3, 7}, {16}, {5, 1, 11}}
	for _, seed := range framingSeeds {
		for _, sizes := range splits {
			checkAgreement(t, []byte(seed), sizes)
		}
	}
	for _, data := range mutations(framingSeeds) {
		checkAgreement(t, data, []int{3, 1, 8})
	}
}

// mutations derives variants from the seeds deterministically: every
// single-byte deletion, and each CRLF replaced by LF, CR, or CRLF plus a
// space or tab.
func mutations(seeds []string) [][]byte {
	var out [][]byte
	for _, s := range seeds {
		for i := range len(s) {
			out = append(out, []byte(s[:i]+s[i+1:]))
		}
		for _, rep := range []string{"\n", "\r", "\r\n ", "\r\n\t", "\r\r\n", " \r\n"} {
			for i := 0; ; {
				j := strings.Index(s[i:], "\r\n")
				if j < 0 {
					break
				}
				out = append(out, []byte(s[:i+j]+rep+s[i+j+2:]))
				i += j + 2
			}
		}
	}
	return out
}

// FuzzFramingAgreesWithNetHTTP runs the same check on arbitrary bytes and
// read sizes (make fuzz runs it; go test runs the seeds).
func FuzzFramingAgreesWithNetHTTP(f *testing.F) {
	for _, s := range framingSeeds {
		f.Add([]byte(s), uint8(0), uint8(0))
		f.Add([]byte(s), uint8(1), uint8(7))
	}
	f.Fuzz(func(t *testing.T, data []byte, a, b uint8) {
		var sizes []int
		if a > 0 {
			sizes = []int{int(a), int(b)}
		}
		checkAgreement(t, data, sizes)
	})
}
