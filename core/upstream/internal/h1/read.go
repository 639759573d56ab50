package h1

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/wasmgate/wasmgate/core/internal/httpsyntax"
)

// Response framing (RFC 9112 §2–§7), by the rules core/server/framing.go
// applies to requests: CRLF line ends only, no obs-fold, no whitespace
// before a field's colon, HTTP/1.0 or HTTP/1.1, one Transfer-Encoding field
// that is exactly "chunked" (never on HTTP/1.0), identical decimal
// Content-Length values, chunk lines of hex digits with extensions after a
// ';'. Where net/http is lenient (bare LF, obs-fold unfolded) the response
// is refused: a proxy that reads a response differently from the next hop
// can be made to serve one client's response to another.
//
// Two leniencies are kept, because net/http kept them and the proxy
// promises them (test/hardening): a field line whose name is not a token is
// dropped, and Transfer-Encoding beside Content-Length frames the body as
// chunked with the length dropped. Both make the connection close after the
// response: a peer that sent them is not trusted to frame the next one.

// protocolError is a response the RFC does not allow.
type protocolError struct{ msg string }

func (e *protocolError) Error() string { return "malformed upstream response: " + e.msg }

func badResponse(msg string) error { return &protocolError{msg} }

var errHeadTooLarge = badResponse("response head larger than the limit")

// readHead reads one response head (status line to the empty line) into
// c.head. got says whether any byte arrived.
func (c *conn) readHead(limit int) (got bool, err error) {
	c.head = c.head[:0]
	start := 0 // of the current line in c.head
	for {
		line, err := c.br.ReadSlice('\n')
		if len(line) > 0 {
			got = true
		}
		if len(c.head)+len(line) > limit {
			return got, errHeadTooLarge
		}
		c.head = append(c.head, line...)
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err != nil && isTimeout(err) && c.extendProbe():
			continue // the head is slow, not the peer gone: read on under the header timeout
		case err == io.EOF && got:
			return got, io.ErrUnexpectedEOF
		case err != nil:
			return got, err
		}
		if l := c.head[start:]; start > 0 && (len(l) == 2 && l[0] == '\r' || len(l) == 1) {
			return got, nil // the empty line (a bare LF is refused by parseHead)
		}
		start = len(c.head)
	}
}

// head is a parsed response head.
type head struct {
	status     int
	statusText string // "200 OK"
	http10     bool
	header     http.Header
	length     int64 // Content-Length, -1 if none
	chunked    bool
	closeConn  bool // Connection: close
	doubt      bool // something was dropped or overridden: do not reuse the connection
	trailer    http.Header
}

// parseHead parses c.head. The strings it makes share one copy of the
// head's bytes; field values are backed by vals while it has room (the
// response's own array, so a typical head costs no slice of its own).
func parseHead(b []byte, vals []string) (head, error) {
	h := head{length: -1}
	s := string(b)
	end := strings.IndexByte(s, '\n')
	if end < 1 || s[end-1] != '\r' {
		return h, badResponse("status line does not end in CRLF")
	}
	if err := h.statusLine(s[:end-1]); err != nil {
		return h, err
	}
	s = s[end+1:]
	lines := strings.Count(s, "\n") - 1 // field lines, less the empty one
	if lines > len(vals) {
		vals = make([]string, lines)
	}
	h.header = make(http.Header, lines)
	te := 0
	for i := 0; ; i++ {
		end := strings.IndexByte(s, '\n')
		if end < 1 || s[end-1] != '\r' {
			return h, badResponse("a field line that does not end in CRLF")
		}
		line := s[:end-1]
		s = s[end+1:]
		if line == "" {
			break
		}
		name, value, err := fieldLine(line)
		if err != nil {
			return h, err
		}
		if name == "" {
			h.doubt = true // not a token: dropped, as net/http drops it
			continue
		}
		key := textproto.CanonicalMIMEHeaderKey(name)
		switch key {
		case "Content-Length":
			n, ok := httpsyntax.ParseDecimal(value)
			switch {
			case !ok:
				return h, badResponse("a Content-Length that is not a decimal number")
			case h.length >= 0 && h.length != n:
				return h, badResponse("Content-Length fields that differ")
			case h.length >= 0:
				continue // the same value again: kept once
			}
			h.length = n
		case "Transfer-Encoding":
			te++
			if te > 1 || !strings.EqualFold(value, "chunked") {
				return h, badResponse("a Transfer-Encoding other than one chunked")
			}
			h.chunked = true
			continue
		case "Trailer":
			if err := h.announce(value); err != nil {
				return h, err
			}
			continue
		case "Connection":
			if hasToken(value, "close") {
				h.closeConn = true
			}
		}
		if vv := h.header[key]; vv != nil {
			h.header[key] = append(vv, value)
		} else {
			vals[i] = value
			h.header[key] = vals[i : i+1 : i+1]
		}
	}
	if h.chunked {
		if h.http10 {
			return h, badResponse("Transfer-Encoding in an HTTP/1.0 response")
		}
		if h.length >= 0 {
			// RFC 9112 §6.3: chunked wins; the length is dropped and the
			// connection closed after.
			delete(h.header, "Content-Length")
			h.length = -1
			h.doubt = true
		}
	}
	return h, nil
}

// statusLine parses "HTTP/1.x SP 3DIGIT [SP reason]".
func (h *head) statusLine(l string) error {
	switch {
	case len(l) < 12 || l[8] != ' ' || len(l) > 12 && l[12] != ' ':
		return badResponse("a malformed status line")
	case l[:8] == "HTTP/1.1":
	case l[:8] == "HTTP/1.0":
		h.http10 = true
	default:
		return badResponse("a version other than HTTP/1.0 or HTTP/1.1")
	}
	code := 0
	for _, b := range []byte(l[9:12]) {
		if b < '0' || b > '9' {
			return badResponse("a status code that is not three digits")
		}
		code = code*10 + int(b-'0')
	}
	if code < 100 {
		return badResponse("a status code under 100")
	}
	for i := 12; i < len(l); i++ {
		if b := l[i]; b < ' ' && b != '\t' || b == 0x7f {
			return badResponse("a control character in the status line")
		}
	}
	h.status, h.statusText = code, l[9:]
	return nil
}

// fieldLine splits a field line. A name that is not a token comes back
// empty (the caller drops the line); a value with CR or NUL is an error.
func fieldLine(line string) (name, value string, err error) {
	if line[0] == ' ' || line[0] == '\t' {
		return "", "", badResponse("a folded field line (obs-fold)")
	}
	colon := strings.IndexByte(line, ':')
	if colon < 0 {
		return "", "", badResponse("a field line without a colon")
	}
	value = httpsyntax.TrimOWS(line[colon+1:])
	for i := 0; i < len(value); i++ {
		if b := value[i]; b == '\r' || b == 0 {
			return "", "", badResponse("a CR or NUL in a field value")
		}
	}
	name = line[:colon]
	for i := 0; i < len(name); i++ {
		if !httpsyntax.TokenByte(name[i]) {
			return "", value, nil
		}
	}
	if name == "" {
		return "", value, nil
	}
	return name, value, nil
}

// announce records the trailer fields a "Trailer" field names; as net/http,
// the framing fields may not be among them.
func (h *head) announce(v string) error {
	for v != "" {
		var k string
		k, v, _ = strings.Cut(v, ",")
		k = httpsyntax.TrimOWS(k)
		if k == "" {
			continue
		}
		k = textproto.CanonicalMIMEHeaderKey(k)
		switch k {
		case "Transfer-Encoding", "Trailer", "Content-Length":
			return badResponse("a Trailer field naming " + k)
		}
		if h.trailer == nil {
			h.trailer = make(http.Header)
		}
		h.trailer[k] = nil
	}
	return nil
}

func hasToken(v, token string) bool {
	for v != "" {
		var t string
		t, v, _ = strings.Cut(v, ",")
		if strings.EqualFold(httpsyntax.TrimOWS(t), token) {
			return true
		}
	}
	return false
}

// readChunkSize reads a chunk-size line: hex digits, optional extensions
// after ';', CRLF.
func readChunkSize(br *bufio.Reader) (int64, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return 0, badResponse("a chunk-size line too long")
	}
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return 0, badResponse("a chunk-size line that does not end in CRLF")
	}
	line = line[:len(line)-2]
	var n int64
	i := 0
	for ; i < len(line) && i < 16; i++ {
		d, ok := unhex(line[i])
		if !ok {
			break
		}
		n = n<<4 | int64(d)
	}
	switch {
	case i == 0:
		return 0, badResponse("a chunk size that is not hex digits")
	case i == 16 && i < len(line) && line[i] != ';':
		return 0, badResponse("a chunk size of more than 15 hex digits")
	case i < len(line) && line[i] != ';':
		return 0, badResponse("a chunk-size line that is not hex digits and extensions")
	}
	for _, b := range line[i:] {
		if b < ' ' && b != '\t' || b == 0x7f {
			return 0, badResponse("a control character in a chunk extension")
		}
	}
	if n < 0 {
		return 0, badResponse("a chunk size out of range")
	}
	return n, nil
}

func unhex(b byte) (byte, bool) {
	switch {
	case '0' <= b && b <= '9':
		return b - '0', true
	case 'a' <= b && b <= 'f':
		return b - 'a' + 10, true
	case 'A' <= b && b <= 'F':
		return b - 'A' + 10, true
	}
	return 0, false
}

// readTrailers reads a chunked body's trailer section into tr (creating
// it): field lines up to the empty line, by the head's rules, the framing
// fields dropped.
func (c *conn) readTrailers(tr *http.Header, limit int) error {
	total := 0
	for {
		line, err := c.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			return badResponse("a trailer line too long")
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if total += len(line); total > limit {
			return badResponse("trailer section larger than the limit")
		}
		if len(line) < 2 || line[len(line)-2] != '\r' {
			return badResponse("a trailer line that does not end in CRLF")
		}
		if len(line) == 2 {
			return nil
		}
		name, value, err := fieldLine(string(line[:len(line)-2]))
		if err != nil {
			return err
		}
		if name == "" {
			continue
		}
		key := textproto.CanonicalMIMEHeaderKey(name)
		switch key {
		case "Transfer-Encoding", "Trailer", "Content-Length", "Host":
			continue
		}
		if *tr == nil {
			*tr = make(http.Header)
		}
		(*tr)[key] = append((*tr)[key], value)
	}
}

var errChunkEnd = badResponse("chunk data not followed by CRLF")

// expectCRLF reads the CRLF after a chunk's data.
func expectCRLF(br *bufio.Reader) error {
	b, err := br.Peek(2)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	if b[0] != '\r' || b[1] != '\n' {
		return errChunkEnd
	}
	_, _ = br.Discard(2)
	return nil
}
