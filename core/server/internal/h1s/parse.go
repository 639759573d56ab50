package h1s

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/wasmgate/wasmgate/core/internal/httpsyntax"
)

// Parsing a request head.
//
// The result must be exactly what net/http's server makes of the same
// bytes: the same accept or reject, and the same Method, URL, Proto, Host,
// Header, ContentLength, TransferEncoding, Close and Trailer. So there are
// two parsers. The fast one reads only a strict subset of HTTP/1.1 that
// covers ordinary requests (CRLF line ends, token field names, no folding,
// no Transfer-Encoding, Trailer or Pragma field, at most one Content-Length
// that is a plain decimal, no CONNECT), for which what net/http produces is
// simple enough to state and to test (parse_test.go compares the two over a
// generated corpus). Anything outside that subset, valid or not, goes to
// net/http's own parser (http.ReadRequest) over the same head bytes, plus
// the checks net/http's server adds; what it returns is used as is. A
// rarely seen request costs more; none is read differently.
//
// Strictness beyond net/http's (RFC 9112 framing, smuggling) is the job of
// core/server's framing scanner, which sees the same bytes in the same
// order as it does under net/http.

// errTooLarge is a head longer than the limit: 431.
var errTooLarge = errors.New("request header fields too large")

// statusError is a refusal with its status and a reason for the client.
type statusError struct {
	code   int
	reason string
}

func (e *statusError) Error() string { return e.reason }

func badRequest(reason string) error { return &statusError{http.StatusBadRequest, reason} }

// maxFastValues bounds the fields the fast parser stores inline.
const maxFastValues = 24

// parseHead fills req from head: the request line through the empty line
// that ends the field section, exactly as received. vals is backing for
// field values.
func parseHead(req *http.Request, head []byte, vals *[maxFastValues]string) (h2Upgrade bool, err error) {
	if ok := parseFast(req, head, vals); ok {
		return checkServer(req, req.Header["Host"])
	}
	return parseSlow(req, head)
}

// parseFast parses head if it lies in the strict subset; false leaves req
// to parseSlow.
func parseFast(req *http.Request, head []byte, vals *[maxFastValues]string) bool {
	// Request line: token SP target SP HTTP/1.x CRLF.
	nl := bytes.IndexByte(head, '\n')
	if nl < 1 || head[nl-1] != '\r' {
		return false
	}
	line := head[:nl-1]
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 < 1 {
		return false
	}
	for _, b := range line[:sp1] {
		if !httpsyntax.TokenByte(b) {
			return false
		}
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 < 1 {
		return false
	}
	for _, b := range rest[:sp2] {
		if b <= ' ' || b >= 0x7f {
			return false
		}
	}
	var major, minor int
	switch string(rest[sp2+1:]) {
	case "HTTP/1.1":
		major, minor = 1, 1
	case "HTTP/1.0":
		major, minor = 1, 0
	default:
		return false
	}

	// Fields: name ":" value CRLF, name a token, value visible bytes,
	// spaces and tabs (and obs-text), until an empty line.
	nfields := 0
	hosts, cls := 0, 0
	for p := nl + 1; ; {
		e := bytes.IndexByte(head[p:], '\n')
		if e < 1 || head[p+e-1] != '\r' {
			return false
		}
		fl := head[p : p+e-1]
		p += e + 1
		if len(fl) == 0 {
			if p != len(head) {
				return false
			}
			break
		}
		colon := bytes.IndexByte(fl, ':')
		if colon < 1 {
			return false
		}
		for _, b := range fl[:colon] {
			if !httpsyntax.TokenByte(b) {
				return false
			}
		}
		for _, b := range fl[colon+1:] {
			if b < ' ' && b != '\t' || b == 0x7f {
				return false
			}
		}
		switch canonicalKind(fl[:colon]) {
		case kindHost:
			hosts++
		case kindContentLength:
			cls++
		case kindSlow:
			return false
		}
		nfields++
	}
	if hosts > 1 || cls > 1 {
		return false
	}

	// One string holds the head: every field name and value of the
	// request is a piece of it.
	s := string(head)
	method := s[:sp1]
	if method == http.MethodConnect {
		return false
	}
	target := s[sp1+1 : sp1+1+sp2]
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return false // net/http reports it, in its words
	}

	h := make(http.Header, nfields)
	var strs []string
	if nfields <= maxFastValues {
		strs = vals[:nfields]
	} else {
		strs = make([]string, nfields)
	}
	for p := nl + 1; ; {
		e := strings.IndexByte(s[p:], '\n')
		fl := s[p : p+e-1]
		p += e + 1
		if len(fl) == 0 {
			break
		}
		colon := strings.IndexByte(fl, ':')
		key := canonicalKey(fl[:colon])
		value := trimOWS(fl[colon+1:])
		if vv := h[key]; vv == nil {
			vv, strs = strs[:1:1], strs[1:]
			vv[0] = value
			h[key] = vv
		} else {
			h[key] = append(vv, value)
		}
	}

	req.Method = method
	req.URL = u
	req.RequestURI = target
	req.Proto = s[sp1+1+sp2+1 : nl-1]
	req.ProtoMajor, req.ProtoMinor = major, minor
	req.Header = h
	req.Host = u.Host
	if req.Host == "" {
		if v := h["Host"]; len(v) > 0 {
			req.Host = v[0]
		}
	}
	req.Close = shouldClose(major, minor, h)
	req.ContentLength = 0
	if cl := h["Content-Length"]; len(cl) == 1 {
		n, ok := parseContentLength(cl[0])
		if !ok {
			return false
		}
		req.ContentLength = n
	}
	return true
}

type fieldKind uint8

const (
	kindOther fieldKind = iota
	kindHost
	kindContentLength
	kindSlow // a field whose handling the fast parser leaves to net/http
)

// canonicalKind classifies a field name, case-insensitively.
func canonicalKind(name []byte) fieldKind {
	switch len(name) {
	case 4:
		if equalFold(name, "host") {
			return kindHost
		}
	case 6:
		if equalFold(name, "pragma") {
			return kindSlow
		}
	case 7:
		if equalFold(name, "trailer") {
			return kindSlow
		}
	case 14:
		if equalFold(name, "content-length") {
			return kindContentLength
		}
	case 17:
		if equalFold(name, "transfer-encoding") {
			return kindSlow
		}
	}
	return kindOther
}

func equalFold(b []byte, lower string) bool {
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// canonicalKey is textproto.CanonicalMIMEHeaderKey for a token: without an
// allocation when the name is already canonical, as most are.
func canonicalKey(k string) string {
	upper := true
	for i := 0; i < len(k); i++ {
		c := k[i]
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			return textproto.CanonicalMIMEHeaderKey(k)
		}
		upper = c == '-'
	}
	return k
}

// trimOWS trims spaces and tabs, as textproto does with a field value.
func trimOWS(s string) string {
	i, j := 0, len(s)
	for i < j && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	for j > i && (s[j-1] == ' ' || s[j-1] == '\t') {
		j--
	}
	return s[i:j]
}

// parseContentLength accepts what net/http does, in the fast parser's
// subset: decimal digits that fit in 63 bits.
func parseContentLength(v string) (int64, bool) {
	if v == "" || len(v) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// shouldClose is net/http's: HTTP/1.0 closes unless asked to keep alive,
// HTTP/1.1 only when asked to close.
func shouldClose(major, minor int, h http.Header) bool {
	conv := h["Connection"]
	hasClose := httpguts.HeaderValuesContainsToken(conv, "close")
	if major == 1 && minor == 0 {
		return hasClose || !httpguts.HeaderValuesContainsToken(conv, "keep-alive")
	}
	return hasClose
}

// parseSlow is net/http's parser on head, and its server's checks.
func parseSlow(req *http.Request, head []byte) (bool, error) {
	r, err := http.ReadRequest(bufio.NewReaderSize(bytes.NewReader(head), len(head)+16))
	if err != nil {
		if s := err.Error(); strings.Contains(s, "transfer encoding") {
			return false, &statusError{http.StatusNotImplemented, "unsupported transfer encoding"}
		}
		return false, badRequest(reasonOf(err))
	}
	if r.ProtoMajor != 1 && !(r.ProtoMajor == 2 && r.ProtoMinor == 0 && r.Method == "PRI" && r.RequestURI == "*") {
		return false, &statusError{http.StatusHTTPVersionNotSupported, "unsupported protocol version"}
	}
	// ReadRequest drops the Host field; the server's checks look at it.
	tp := textproto.NewReader(bufio.NewReaderSize(bytes.NewReader(head), len(head)+16))
	_, _ = tp.ReadLine()
	mh, _ := tp.ReadMIMEHeader()
	hosts := mh["Host"]
	if r.Header == nil {
		r.Header = http.Header{}
	}
	if hosts != nil {
		r.Header["Host"] = hosts
	}
	r.Body = nil
	*req = http.Request{
		Method:           r.Method,
		URL:              r.URL,
		Proto:            r.Proto,
		ProtoMajor:       r.ProtoMajor,
		ProtoMinor:       r.ProtoMinor,
		Header:           r.Header,
		ContentLength:    r.ContentLength,
		TransferEncoding: r.TransferEncoding,
		Close:            r.Close,
		Host:             r.Host,
		Trailer:          r.Trailer,
		RequestURI:       r.RequestURI,
	}
	return checkServer(req, hosts)
}

// checkServer is what net/http's server checks past the parser; it removes
// the Host field, as net/http does. h2Upgrade is a "PRI * HTTP/2.0" request
// without fields (net/http's isH2Upgrade).
func checkServer(req *http.Request, hosts []string) (h2Upgrade bool, err error) {
	h2Upgrade = req.Method == "PRI" && len(req.Header) == 0 && req.URL.Path == "*" && req.Proto == "HTTP/2.0"
	if req.ProtoAtLeast(1, 1) && len(hosts) == 0 && !h2Upgrade && req.Method != http.MethodConnect {
		return false, badRequest("missing required Host header")
	}
	if len(hosts) == 1 && !httpguts.ValidHostHeader(hosts[0]) {
		return false, badRequest("malformed Host header")
	}
	for k, vv := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return false, badRequest("invalid header name")
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return false, badRequest("invalid header value")
			}
		}
	}
	delete(req.Header, "Host")
	return h2Upgrade, nil
}

// reasonOf turns a net/http parse error into a short reason.
func reasonOf(err error) string {
	s := err.Error()
	switch {
	case strings.HasPrefix(s, "malformed HTTP request"):
		return "malformed request line"
	case strings.HasPrefix(s, "invalid method"):
		return "invalid method"
	case strings.HasPrefix(s, "malformed HTTP version"):
		return "malformed HTTP version"
	case strings.Contains(s, "malformed MIME header"):
		return "malformed header field"
	case strings.Contains(s, "Content-Length"):
		return "bad Content-Length"
	case strings.Contains(s, "too many Host headers"):
		return "too many Host headers"
	case strings.Contains(s, "bad trailer key"):
		return "bad trailer key"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return "malformed request target"
	}
	return "malformed request"
}

// headEnd returns the length of the head at the start of b: through the
// first empty line after the request line (a line end is LF, optionally
// after CR, as net/http reads them), or -1 if b holds no complete head.
// nl is the index of the request line's LF.
func headEnd(b []byte, nl int) int {
	for i := nl; i < len(b); {
		j := bytes.IndexByte(b[i+1:], '\n')
		if j < 0 {
			return -1
		}
		line := b[i+1 : i+1+j]
		if len(line) == 0 || len(line) == 1 && line[0] == '\r' {
			return i + 1 + j + 1
		}
		i += 1 + j
	}
	return -1
}

// statusLine is "HTTP/1.x code text\r\n".
func appendStatusLine(b []byte, is11 bool, code int) []byte {
	if is11 {
		b = append(b, "HTTP/1.1 "...)
	} else {
		b = append(b, "HTTP/1.0 "...)
	}
	if text := http.StatusText(code); text != "" {
		b = strconv.AppendInt(b, int64(code), 10)
		b = append(b, ' ')
		b = append(b, text...)
	} else {
		b = strconv.AppendInt(b, int64(code), 10)
		b = append(b, " status code "...)
		b = strconv.AppendInt(b, int64(code), 10)
	}
	return append(b, "\r\n"...)
}
