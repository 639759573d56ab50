package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strconv"
	"sync"

	"github.com/wasmgate/wasmgate/core/internal/httpsyntax"
)

// Request framing (RFC 9112 §2–§7).
//
// A request smuggling attack is a disagreement about where one request ends
// and the next begins: a proxy in front of us reads the bytes one way, we
// read them another, and a request the front never saw reaches an upstream.
// net/http is lenient where the RFC lets a recipient be (bare LF line ends,
// obs-fold unfolded into spaces, HTTP/1.2–1.9 read as 1.x, whitespace before
// a chunk line's CRLF, Content-Length beside Transfer-Encoding resolved as
// chunked, Transfer-Encoding on HTTP/1.0 ignored); each leniency is a place
// where a stricter or differently lenient front end disagrees. And by the
// time a handler runs, net/http has already deleted the framing fields and
// joined folded lines, so the evidence is only in the bytes.
//
// So on every HTTP/1 connection the bytes net/http reads pass through a
// framingConn whose scanner is a complete RFC 9112 message parser of its
// own: a request line only where a message starts, by byte position; the
// header section; the body length the header implies (RFC 9112 §6.3: chunked,
// Content-Length or none) and the body skipped by that length, chunk by
// chunk. It accepts only what the RFC defines and every reasonable parser
// reads the same way: CRLF line ends, no whitespace before a field's colon
// or at a line's start (obs-fold), one Transfer-Encoding field that is
// exactly "chunked", identical decimal Content-Length values, never both,
// HTTP/1.0 or HTTP/1.1, and chunk lines of hex digits with extensions after
// a ';' and nothing else.
//
// The scanner queues one verdict per request head, in order. The guard (the
// server's outermost handler) pops the verdict of each request net/http
// hands it and checks that the request line is the one the scanner parsed
// at that position, by hash. A faulty head is refused with 400 (505 for an
// unknown version) and its connection closed; a request the scanner did not
// see where net/http did (the two parsers disagree) is refused the same way,
// so a disagreement can only cost a request, never let one through. A fault
// inside a body (a chunk line net/http would accept but the RFC does not) is
// found as net/http reads it: the read fails, the body read fails with it,
// and the upstream request is aborted, never completed; the connection
// closes. After any fault the scanner stops and every further request on the
// connection is refused.
//
// The scan costs one pass over each head (the bulk of a field value by
// IndexByte) and O(1) per body read (lengths, not bytes); it stops for good
// on a connection that turns out to speak h2c. Over TLS the same scanner
// runs on the decrypted bytes of HTTP/1.x connections (tls.go).

// framingConn is an HTTP/1 client connection whose reads are scanned.
type framingConn struct {
	net.Conn
	scan framingScanner       // only the goroutine reading the connection touches it
	tls  *tls.ConnectionState // of an HTTP/1.x connection over TLS (tlsaccept.go)

	bodyErr error // a fault in a body: every read from now on fails with it

	mu       sync.Mutex
	verdicts []verdict // heads scanned and not yet claimed, oldest first
	dead     bool      // a fault was found: refuse whatever comes next
	off      bool      // the connection speaks h2c: no HTTP/1 heads follow
}

// verdict is the scanner's finding on one request head.
type verdict struct {
	line   uint64 // FNV-1a of the request line without its CRLF
	fault  string // "" for a well-framed head
	status int    // the status to refuse a faulty head with
}

// maxVerdicts bounds the heads one connection may have scanned ahead of
// net/http (it reads at most a buffer ahead, so this is never reached by a
// real client); past it the connection is treated as out of step.
const maxVerdicts = 256

func (c *framingConn) Read(p []byte) (int, error) {
	if c.bodyErr != nil {
		return 0, c.bodyErr
	}
	n, err := c.Conn.Read(p)
	if n > 0 && c.scan.phase != phaseOff {
		ok, ferr := c.scan.feed(p[:n], c)
		if ferr != nil {
			// The bytes before the fault first, the error on the next read:
			// net/http cancels the request's context on any read error, and
			// the body reader must see the fault as the body's own error
			// (400), not as a client that left.
			c.bodyErr = ferr
			if ok > 0 {
				return ok, nil
			}
			return 0, ferr
		}
	}
	return n, err
}

// push queues a head's verdict; a fault also marks the connection dead.
func (c *framingConn) push(v verdict) {
	c.mu.Lock()
	if len(c.verdicts) < maxVerdicts {
		c.verdicts = append(c.verdicts, v)
	} else {
		c.dead = true
	}
	if v.fault != "" {
		c.dead = true
	}
	c.mu.Unlock()
}

func (c *framingConn) stop(h2c bool) {
	c.mu.Lock()
	if h2c {
		c.off = true
	} else {
		c.dead = true
	}
	c.mu.Unlock()
}

// claim returns the verdict on r's head: the next one queued, if it was
// scanned from r's request line.
func (c *framingConn) claim(r *http.Request) (fault string, status int) {
	h := fnvString(fnvOffset, r.Method)
	h = fnvByte(h, ' ')
	h = fnvString(h, r.RequestURI)
	h = fnvByte(h, ' ')
	h = fnvString(h, r.Proto)

	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.verdicts) == 0 {
		if c.dead {
			return "request follows a faultily framed one on its connection", http.StatusBadRequest
		}
		c.dead = true
		return "request framing could not be verified", http.StatusBadRequest
	}
	v := c.verdicts[0]
	if len(c.verdicts) == 1 {
		c.verdicts = c.verdicts[:0] // the common case: reuse the array from its start
	} else {
		c.verdicts = c.verdicts[1:]
	}
	switch {
	case v.fault != "":
		return v.fault, v.status
	case v.line != h:
		c.dead = true
		return "request framing could not be verified", http.StatusBadRequest
	}
	return "", 0
}

// CloseWrite lets http.Server half-close the connection after an error
// response, so the client reads it before the reset (net/http looks for it).
func (c *framingConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// NetConn is the connection underneath, for code that looks for the TCP
// socket (the native engine's idle wait).
func (c *framingConn) NetConn() net.Conn { return c.Conn }

// bodyFault is the read error a faultily framed body turns into: net/http's
// body reader returns it to the gateway, which aborts the upstream request.
type bodyFault struct{ reason string }

func (e *bodyFault) Error() string { return "request body framing: " + e.reason }

type phase uint8

const (
	phaseStart       phase = iota // where a request line may begin
	phaseRequestLine              // inside a request line
	phaseFieldName                // at or inside a field name (header or trailer)
	phaseFieldValue               // inside a field value
	phaseHeadEnd                  // a field section's final CR was read: LF must follow
	phaseBody                     // Content-Length bytes to skip
	phaseChunkSize                // hex digits of a chunk-size line
	phaseChunkExt                 // a chunk extension, after ';'
	phaseChunkLF                  // a chunk-size line's CR was read: LF must follow
	phaseChunkData                // chunk bytes to skip
	phaseChunkCR                  // the CR after chunk data
	phaseChunkDataLF              // the LF after chunk data
	phaseOff                      // nothing more to look at (h2c, or after a fault)
)

// Field names the scanner needs to recognize, by their first bytes.
const maxName = len("transfer-encoding")

type fieldKind uint8

const (
	fieldOther fieldKind = iota
	fieldContentLength
	fieldTransferEncoding
)

// framingScanner is the RFC 9112 message parser over a connection's bytes.
// It keeps only what framing needs: a hash of the request line, the version,
// the Content-Length and Transfer-Encoding values, and lengths to skip.
type framingScanner struct {
	phase    phase
	requests int  // request lines seen, to recognize the h2c preface
	lastPOST bool // net/http skips up to 4 CR/LF bytes after a POST's body
	skipped  int  // of those, skipped so far

	// The request line being read.
	line    uint64 // FNV-1a so far
	lineLen int
	spaces  int
	cr      bool // the previous byte was CR (only valid right before LF)
	method  [8]byte
	nmethod int
	version [10]byte // the bytes after the second space
	nver    int

	// The field section being read.
	trailer     bool // the fields are a chunked body's trailer section
	http10      bool
	name        [maxName]byte
	nname       int
	nameLong    bool
	kind        fieldKind
	value       [24]byte // a Content-Length or Transfer-Encoding value
	nvalue      int
	valueLong   bool
	cl          int64 // -1 when absent
	te          int   // Transfer-Encoding fields seen
	chunked     bool
	fault       string // a fault in the head, reported when the head ends
	faultStatus int

	remaining uint64 // body or chunk bytes left to skip
	digits    int    // of the chunk size
	extLen    int

	bad   string // the fault found by the current step
	badAt int    // where in the read it was found
}

// sink receives what the scanner finds: framingConn, or a test.
type sink interface {
	push(verdict)
	stop(h2c bool)
}

const maxRequestLine = 1 << 20 // past any MaxHeaderBytes a listener allows

// feed scans p. A fault in a body or a trailer section is returned as an
// error, with the number of bytes of p before it: net/http must not read
// the faulty line whole, or it could accept what the scanner refused. A
// fault in a request head is no error: it is queued for the guard, which
// refuses the request when net/http hands it over (or net/http refuses it
// first).
func (s *framingScanner) feed(p []byte, out sink) (int, error) {
	for i := 0; i < len(p) && s.phase != phaseOff; {
		i = s.step(p, i, out)
		if s.bad == "" {
			continue
		}
		reason := s.bad
		s.bad = ""
		if s.inHead() {
			s.fault, s.faultStatus = reason, http.StatusBadRequest
			s.endHead(out)
			return len(p), nil
		}
		s.phase = phaseOff
		out.stop(false)
		return s.badAt, &bodyFault{reason}
	}
	return len(p), nil
}

func (s *framingScanner) inHead() bool {
	switch s.phase {
	case phaseRequestLine, phaseFieldName, phaseFieldValue, phaseHeadEnd:
		return !s.trailer
	}
	return false
}

// failAt records a fault found at p[i] and returns where the step ends.
func (s *framingScanner) failAt(i int, reason string) int {
	s.bad, s.badAt = reason, i
	return i
}

// step scans from p[i] within the current phase and returns where it
// stopped.
func (s *framingScanner) step(p []byte, i int, out sink) int {
	switch s.phase {
	case phaseStart:
		if b := p[i]; s.lastPOST && s.skipped < 4 && (b == '\r' || b == '\n') {
			s.skipped++
			return i + 1
		}
		s.startRequest()
		return i

	case phaseRequestLine:
		return s.requestLine(p, i, out)

	case phaseFieldName:
		return s.fieldName(p, i)

	case phaseFieldValue:
		seg := p[i:]
		j := bytes.IndexByte(seg, '\n')
		if j >= 0 {
			seg = seg[:j]
		}
		if !s.valueBytes(seg) {
			return s.failAt(i, "a field value holds a CR that does not end its line")
		}
		if j < 0 {
			return len(p)
		}
		i += j
		if !s.cr {
			return s.failAt(i, "a field line that ends in a bare LF")
		}
		if reason := s.endField(); reason != "" {
			return s.failAt(i, reason)
		}
		s.phase, s.cr = phaseFieldName, false
		return i + 1

	case phaseHeadEnd:
		if p[i] != '\n' {
			return s.failAt(i, "a CR not followed by LF")
		}
		if s.trailer {
			s.phase = phaseStart // the message ends with its trailer section
		} else {
			s.endHead(out)
		}
		return i + 1

	case phaseBody, phaseChunkData:
		n := min(s.remaining, uint64(len(p)-i))
		s.remaining -= n
		if s.remaining == 0 {
			if s.phase == phaseBody {
				s.phase = phaseStart
			} else {
				s.phase = phaseChunkCR
			}
		}
		return i + int(n)

	case phaseChunkSize:
		switch b := p[i]; {
		case hexDigit(b):
			if s.digits == 16 {
				return s.failAt(i, "a chunk size of more than 16 hex digits")
			}
			s.remaining = s.remaining<<4 | uint64(unhex(b))
			s.digits++
		case s.digits > 0 && b == ';':
			s.phase, s.extLen = phaseChunkExt, 0
		case s.digits > 0 && b == '\r':
			s.phase = phaseChunkLF
		default:
			return s.failAt(i, "a chunk-size line that is not hex digits, extensions and CRLF")
		}
		return i + 1

	case phaseChunkExt:
		switch b := p[i]; {
		case b == '\r':
			s.phase = phaseChunkLF
		case b < ' ' && b != '\t' || b == 0x7f:
			return s.failAt(i, "a control character in a chunk extension")
		case s.extLen == 4096:
			return s.failAt(i, "a chunk extension longer than 4096 bytes")
		}
		s.extLen++
		return i + 1

	case phaseChunkLF:
		if p[i] != '\n' {
			return s.failAt(i, "a chunk-size line's CR not followed by LF")
		}
		if s.remaining == 0 { // the last chunk: a trailer section follows
			s.startFields(true)
		} else {
			s.phase = phaseChunkData
		}
		return i + 1

	case phaseChunkCR:
		if p[i] != '\r' {
			return s.failAt(i, "chunk data not followed by CRLF")
		}
		s.phase = phaseChunkDataLF
		return i + 1

	case phaseChunkDataLF:
		if p[i] != '\n' {
			return s.failAt(i, "chunk data not followed by CRLF")
		}
		s.phase, s.digits, s.remaining = phaseChunkSize, 0, 0
		return i + 1
	}
	return len(p)
}

func (s *framingScanner) startRequest() {
	s.phase = phaseRequestLine
	s.requests++
	s.line, s.lineLen, s.spaces, s.cr = fnvOffset, 0, 0, false
	s.nmethod, s.nver = 0, 0
	s.fault, s.faultStatus = "", 0
	s.cl, s.te, s.chunked = -1, 0, false
	s.trailer, s.nname, s.nameLong = false, 0, false
}

func (s *framingScanner) startFields(trailer bool) {
	s.phase = phaseFieldName
	s.trailer = trailer
	s.nname, s.nameLong, s.cr = 0, false, false
}

// requestLine scans request-line bytes from p[i:] (RFC 9112 §3:
// method SP request-target SP HTTP-version CRLF).
func (s *framingScanner) requestLine(p []byte, i int, out sink) int {
	for ; i < len(p); i++ {
		b := p[i]
		if s.cr {
			if b != '\n' {
				return s.failAt(i, "a CR not followed by LF in the request line")
			}
			s.endRequestLine(out)
			return i + 1
		}
		switch {
		case b == '\r':
			s.cr = true
			continue
		case b == '\n':
			return s.failAt(i, "a request line that ends in a bare LF")
		case b == ' ':
			s.spaces++
			if s.spaces > 2 {
				return s.failAt(i, "a request line with more than two spaces")
			}
		case b < ' ' || b == 0x7f:
			return s.failAt(i, "a control character in the request line")
		case s.spaces == 0:
			if !httpsyntax.TokenByte(b) {
				return s.failAt(i, "a method that is not a token")
			}
			if s.nmethod < len(s.method) {
				s.method[s.nmethod] = b
			}
			s.nmethod++
		case s.spaces == 2:
			if s.nver < len(s.version) {
				s.version[s.nver] = b
			}
			s.nver++
		}
		s.line = fnvByte(s.line, b)
		s.lineLen++
		if s.lineLen > maxRequestLine {
			return s.failAt(i, "a request line too long")
		}
	}
	return i
}

func (s *framingScanner) endRequestLine(out sink) {
	version := string(s.version[:min(s.nver, len(s.version))])
	method := string(s.method[:min(s.nmethod, len(s.method))])
	s.lastPOST, s.skipped, s.cr = method == "POST", 0, false
	s.http10 = version == "HTTP/1.0"
	s.phase = phaseFieldName
	switch {
	case s.requests == 1 && method == "PRI" && version == "HTTP/2.0" && s.lineLen == len("PRI * HTTP/2.0"):
		s.phase = phaseOff // the h2c preface: HTTP/2 frames follow
		out.stop(true)
	case s.spaces != 2 || s.nmethod == 0 || s.nver == 0 || s.lineLen == s.nmethod+s.nver+2:
		s.fault, s.faultStatus = "a malformed request line", http.StatusBadRequest
	case version == "HTTP/1.1" || version == "HTTP/1.0":
	default:
		s.fault, s.faultStatus = "HTTP version "+strconv.Quote(version)+" (HTTP/1.0 and HTTP/1.1 are supported)", http.StatusHTTPVersionNotSupported
	}
}

// fieldName scans a field line up to its colon (RFC 9112 §5.1: no
// whitespace before the colon; §5.2: no obs-fold).
func (s *framingScanner) fieldName(p []byte, i int) int {
	for ; i < len(p); i++ {
		b := p[i]
		empty := s.nname == 0 && !s.nameLong
		switch {
		case httpsyntax.TokenByte(b):
			if s.nname < maxName {
				s.name[s.nname] = lower(b)
				s.nname++
			} else {
				s.nameLong = true
			}
		case b == ':' && !empty:
			s.kind = fieldOther
			if !s.nameLong {
				switch string(s.name[:s.nname]) {
				case "content-length":
					s.kind = fieldContentLength
				case "transfer-encoding":
					s.kind = fieldTransferEncoding
				}
			}
			s.nvalue, s.valueLong, s.cr = 0, false, false
			s.phase = phaseFieldValue
			return i + 1
		case b == '\r' && empty:
			s.phase = phaseHeadEnd
			return i + 1
		case (b == ' ' || b == '\t') && empty:
			return s.failAt(i, "a folded field line (obs-fold) or whitespace before a field name")
		case b == ' ' || b == '\t':
			return s.failAt(i, "whitespace between a field name and its colon")
		case b == '\n' && empty:
			return s.failAt(i, "a field section that ends in a bare LF")
		default:
			return s.failAt(i, "a field line without a valid name and colon")
		}
	}
	return i
}

// valueBytes records a segment of a field value; false for a CR that is
// not the line's last byte.
func (s *framingScanner) valueBytes(seg []byte) bool {
	if len(seg) == 0 {
		return true
	}
	if s.cr { // a CR ended the previous segment, and more value follows it
		return false
	}
	if k := bytes.IndexByte(seg, '\r'); k >= 0 {
		if k != len(seg)-1 {
			return false
		}
		s.cr = true
		seg = seg[:k]
	}
	if s.kind != fieldOther {
		if s.nvalue+len(seg) > len(s.value) {
			s.valueLong = true
		} else {
			s.nvalue += copy(s.value[s.nvalue:], seg)
		}
	}
	return true
}

// endField applies a complete field line; "" when it is acceptable.
func (s *framingScanner) endField() string {
	s.nname, s.nameLong = 0, false
	if s.trailer {
		return ""
	}
	v := httpsyntax.TrimOWS(s.value[:s.nvalue])
	switch s.kind {
	case fieldContentLength:
		// RFC 9110 §8.6: 1*DIGIT. A list ("5, 5") is refused, as net/http
		// refuses it.
		n, ok := httpsyntax.ParseDecimal(v)
		switch {
		case s.valueLong || !ok:
			return "a Content-Length that is not a decimal number"
		case s.cl >= 0 && s.cl != n:
			return "Content-Length fields that differ"
		}
		s.cl = n
	case fieldTransferEncoding:
		s.te++
		if s.valueLong || !equalFoldChunked(v) {
			return "a Transfer-Encoding other than chunked"
		}
		s.chunked = true
	}
	return ""
}

// endHead queues the head's verdict and moves on to its body (RFC 9112
// §6.3: chunked, else Content-Length, else none).
func (s *framingScanner) endHead(out sink) {
	v := verdict{line: s.line, status: http.StatusBadRequest}
	switch {
	case s.fault != "":
		v.fault, v.status = s.fault, s.faultStatus
	case s.te > 1:
		v.fault = "more than one Transfer-Encoding field"
	case s.te > 0 && s.cl >= 0:
		v.fault = "both Content-Length and Transfer-Encoding"
	case s.te > 0 && s.http10:
		v.fault = "Transfer-Encoding in an HTTP/1.0 request"
	}
	if v.fault != "" {
		v.fault = "request framing: " + v.fault
		s.phase = phaseOff
		out.push(v)
		out.stop(false)
		return
	}
	out.push(v)
	switch {
	case s.chunked:
		s.phase, s.remaining, s.digits = phaseChunkSize, 0, 0
	case s.cl > 0:
		s.phase, s.remaining = phaseBody, uint64(s.cl)
	default:
		s.phase = phaseStart
	}
}

// framingListener wraps each accepted plain connection in a framingConn.
type framingListener struct{ net.Listener }

func (l framingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &framingConn{Conn: c}, nil
}

type connKey struct{}

// connContext makes a connection's framingConn reachable from its requests.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if fc, ok := c.(*framingConn); ok {
		return context.WithValue(ctx, connKey{}, fc)
	}
	return ctx
}

// guardFraming is the server's outermost handler: it refuses HTTP/1.x
// requests whose head the scanner found faulty, or did not see where
// net/http did, and h2 requests whose Host field disagrees with :authority
// or whose content-length is not a plain decimal, before the gateway routes
// anything.
func guardFraming(next http.Handler, c *counters) http.Handler {
	refuse := func(w http.ResponseWriter, r *http.Request, status int, reason string) {
		c.malformed.Add(1)
		refuse(w, r, status, reason)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.ProtoMajor {
		case 1:
			if fc, ok := r.Context().Value(connKey{}).(*framingConn); ok {
				if fc.tls != nil {
					r.TLS = fc.tls
				}
				if reason, status := fc.claim(r); reason != "" {
					refuse(w, r, status, reason)
					return
				}
			} else if len(r.TransferEncoding) > 0 {
				// Not scanned (a connection that is not ours): a chunked
				// request never shares its connection with the next one.
				w.Header()["Connection"] = closeValue
			}
		case 2, 3:
			// RFC 9113 §8.3.1 (and RFC 9114 §4.3.1 for HTTP/3): a Host field that differs from :authority
			// makes the request malformed. net/http routes on :authority
			// and keeps the Host field in r.Header, where a filter or an
			// upstream could read the other name.
			if h, ok := r.Header["Host"]; ok {
				if len(h) != 1 || h[0] != r.Host {
					refuse(w, r, http.StatusBadRequest, "host header differs from :authority")
					return
				}
				delete(r.Header, "Host")
			}
			// RFC 9113 §8.1.1 (RFC 9114 §4.1.2): a content-length that does not match the
			// DATA makes the request malformed. net/http reads a value it
			// cannot parse ("+5", "5, 6") as 0 and would forward an empty,
			// complete request; it checks the DATA against a value it
			// could parse, failing the body read on a mismatch.
			if cl, ok := r.Header["Content-Length"]; ok {
				if reason := checkH2ContentLength(cl, r.ContentLength); reason != "" {
					refuse(w, r, http.StatusBadRequest, reason)
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

func checkH2ContentLength(values []string, parsed int64) string {
	for _, v := range values {
		n, ok := httpsyntax.ParseDecimal(v)
		if !ok {
			return "content-length is not a decimal number"
		}
		if n != parsed {
			return "content-length values differ"
		}
	}
	return ""
}

var closeValue = []string{"close"}

// refuse answers status with the gateway's JSON error shape. An HTTP/1.x
// connection is closed after it; on h2 only the stream ends ("Connection:
// close" would make net/http send GOAWAY for the whole connection).
func refuse(w http.ResponseWriter, r *http.Request, status int, reason string) {
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	if r.ProtoMajor == 1 {
		h["Connection"] = closeValue
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"error":` + strconv.Quote(reason) + `,"status":` + strconv.Itoa(status) + "}\n"))
}

func lower(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

func hexDigit(b byte) bool {
	return '0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F'
}

func unhex(b byte) byte {
	switch {
	case b <= '9':
		return b - '0'
	case b >= 'a':
		return b - 'a' + 10
	}
	return b - 'A' + 10
}

func equalFoldChunked(b []byte) bool {
	const chunked = "chunked"
	if len(b) != len(chunked) {
		return false
	}
	for i := range b {
		if lower(b[i]) != chunked[i] {
			return false
		}
	}
	return true
}

// FNV-1a, 64 bits: the request line's fingerprint.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvByte(h uint64, b byte) uint64 { return (h ^ uint64(b)) * fnvPrime }

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * fnvPrime
	}
	return h
}
