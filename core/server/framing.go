package server

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// Request framing (RFC 9112 §5.2, §6.1, §6.3).
//
// net/http resolves a request that carries both Content-Length and
// Transfer-Encoding: chunked by reading it as chunked and deleting the
// Content-Length (the upstream never sees both), ignores Transfer-Encoding on
// HTTP/1.0, and unfolds obs-fold continuation lines into spaces. RFC 9112
// allows each, but asks an intermediary for more: a message framed both ways
// "ought to be handled as an error", and an HTTP/1.0 message with
// Transfer-Encoding MUST be treated as faultily framed and its connection
// closed. All three are how a request is made to look different to a proxy
// in front of us than to us (a desync), so such a request is refused with
// 400 and its connection closed, as Envoy and HAProxy do by default.
//
// By the time a handler runs, net/http has deleted both framing fields from
// the header map and joined folded lines, so the evidence is taken from the
// bytes: on plain listeners every connection is a framingConn that looks at
// the start and the end of each line. A line ending in " HTTP/1.x" opens a
// request head; its header lines are checked until the blank line that ends
// it, and a faulty head's request line is remembered for the handler, which
// refuses the request with that line. Lines outside a head (bodies) only cost
// an IndexByte jump to the next newline, and the scan stops for good once a
// connection turns out to be h2c. A body that happens to hold a faulty head
// with the very request line of a later request can only cost that request,
// never let one through.
//
// Over TLS the plaintext is inside tls.Conn, which net/http must see unwrapped
// (for ALPN and r.TLS); there an HTTP/1.x request with Transfer-Encoding gets
// "Connection: close" instead, whatever else it carried, and folding is left
// to net/http's unfolding.

// framingConn is a client connection whose reads are scanned for faultily
// framed request heads.
type framingConn struct {
	net.Conn
	scan framingScanner // only the reading goroutine touches it

	pending atomic.Bool // faulty is not empty: the hot path's only cost
	mu      sync.Mutex
	faulty  []string // request lines (their last bytes) of faulty heads
}

// maxFaulty bounds what one connection may queue; past it every further
// request on the connection is refused.
const maxFaulty = 16

func (c *framingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.scan.off {
		c.scan.feed(p[:n], c.report)
	}
	return n, err
}

func (c *framingConn) report(requestLine []byte) {
	c.mu.Lock()
	if len(c.faulty) < maxFaulty {
		c.faulty = append(c.faulty, string(requestLine))
	} else {
		c.faulty[maxFaulty-1] = "" // matches any request: refuse the rest
	}
	c.mu.Unlock()
	c.pending.Store(true)
}

// faultyHead reports (and forgets) whether r's head was one the scanner found
// faulty. Lines are compared by their common suffix: the scanner keeps only
// the last bytes of a line, and a line that follows a body on the same read
// may have body bytes in front.
func (c *framingConn) faultyHead(r *http.Request) bool {
	if !c.pending.Load() {
		return false
	}
	line := r.Method + " " + r.RequestURI + " " + r.Proto
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, f := range c.faulty {
		n := min(len(f), len(line))
		if f[len(f)-n:] != line[len(line)-n:] {
			continue
		}
		if f != "" { // "" is the overflow marker: it stays
			c.faulty = append(c.faulty[:i], c.faulty[i+1:]...)
		}
		c.pending.Store(len(c.faulty) > 0)
		return true
	}
	return false
}

// CloseWrite lets http.Server half-close the connection after an error
// response, so the client reads it before the reset (net/http looks for it).
func (c *framingConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// framingScanner is the line-level state machine over a connection's bytes.
// Only the first len(head) and the last len(tail) bytes of a line matter.
type framingScanner struct {
	head    [len("transfer-encoding:")]byte
	tail    [64]byte
	nhead   int
	ntail   int
	lineLen int
	lines   int // lines seen on the connection, to recognize the h2c preface

	// The request head being read, if a request line has been seen since
	// the last blank line.
	inHead                 bool
	reqLine                [64]byte
	nreq                   int
	cl, te, http10, folded bool

	off bool // the connection speaks h2c: nothing more to look at
}

// feed scans p and calls report with the request line of every faulty head
// that ends in p.
func (s *framingScanner) feed(p []byte, report func(requestLine []byte)) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.add(p)
			return
		}
		s.add(p[:i])
		s.endLine(report)
		if s.off {
			return
		}
		p = p[i+1:]
	}
}

func (s *framingScanner) add(seg []byte) {
	s.lineLen += len(seg)
	if s.nhead < len(s.head) {
		s.nhead += copy(s.head[s.nhead:], seg)
	}
	if len(seg) >= len(s.tail) {
		s.ntail = copy(s.tail[:], seg[len(seg)-len(s.tail):])
		return
	}
	// Keep the last len(tail) bytes of the line so far.
	if keep := len(s.tail) - len(seg); s.ntail > keep {
		copy(s.tail[:], s.tail[s.ntail-keep:s.ntail])
		s.ntail = keep
	}
	s.ntail += copy(s.tail[s.ntail:], seg)
}

// endLine classifies the line just ended and resets for the next one.
func (s *framingScanner) endLine(report func([]byte)) {
	head, tail := s.head[:s.nhead], bytes.TrimSuffix(s.tail[:s.ntail], []byte("\r"))
	blank := s.lineLen == 0 || (s.lineLen == 1 && head[0] == '\r')
	s.lines++
	switch {
	case s.lines == 1 && bytes.Equal(head, []byte("PRI * HTTP/2.0\r")):
		s.off = true // the h2c preface: HTTP/2 frames follow
	case blank:
		if s.inHead && (s.folded || s.te && (s.cl || s.http10)) {
			report(s.reqLine[:s.nreq])
		}
		s.inHead = false
	case bytes.HasSuffix(tail, []byte(" HTTP/1.1")) || bytes.HasSuffix(tail, []byte(" HTTP/1.0")):
		s.inHead = true
		s.nreq = copy(s.reqLine[:], tail)
		s.http10 = tail[len(tail)-1] == '0'
		s.cl, s.te, s.folded = false, false, false
	case !s.inHead:
	case head[0] == ' ' || head[0] == '\t':
		s.folded = true
	case hasPrefixFold(head, "content-length:"):
		s.cl = true
	case hasPrefixFold(head, "transfer-encoding:"):
		s.te = true
	}
	s.nhead, s.ntail, s.lineLen = 0, 0, 0
}

// hasPrefixFold is an ASCII case-insensitive prefix test against a
// lower-case prefix.
func hasPrefixFold(b []byte, lower string) bool {
	if len(b) < len(lower) {
		return false
	}
	for i := 0; i < len(lower); i++ {
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
// requests with a faulty head (see above) and h2 requests whose Host field
// disagrees with :authority, before the gateway routes anything.
func guardFraming(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.ProtoMajor {
		case 1:
			if fc, ok := r.Context().Value(connKey{}).(*framingConn); ok {
				if fc.faultyHead(r) {
					refuse(w, r, "request framed with both Content-Length and Transfer-Encoding, Transfer-Encoding in HTTP/1.0, or a folded header line")
					return
				}
			} else if len(r.TransferEncoding) > 0 {
				// TLS: the raw header is out of reach; a chunked request
				// never shares its connection with the next one.
				w.Header()["Connection"] = closeValue
			}
		case 2:
			// RFC 9113 §8.3.1: a Host field that differs from :authority
			// makes the request malformed. net/http routes on :authority
			// and keeps the Host field in r.Header, where a filter or an
			// upstream could read the other name.
			if h, ok := r.Header["Host"]; ok {
				if len(h) != 1 || h[0] != r.Host {
					refuse(w, r, "host header differs from :authority")
					return
				}
				delete(r.Header, "Host")
			}
		}
		next.ServeHTTP(w, r)
	})
}

var closeValue = []string{"close"}

// refuse answers 400 with the gateway's JSON error shape. An HTTP/1.x
// connection is closed after it; on h2 only the stream ends ("Connection:
// close" would make net/http send GOAWAY for the whole connection).
func refuse(w http.ResponseWriter, r *http.Request, reason string) {
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	if r.ProtoMajor == 1 {
		h["Connection"] = closeValue
	}
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write([]byte(`{"error":"` + reason + `","status":400}` + "\n"))
}
