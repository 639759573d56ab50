package server

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"sync/atomic"
)

// Request framing (RFC 9112 §6.1, §6.3).
//
// net/http resolves a request that carries both Content-Length and
// Transfer-Encoding: chunked by reading it as chunked and deleting the
// Content-Length (the upstream never sees both), and it ignores
// Transfer-Encoding on HTTP/1.0. But RFC 9112 asks more of an intermediary:
// such a message "ought to be handled as an error", and an HTTP/1.0 message
// with Transfer-Encoding MUST be treated as faultily framed "and the
// connection closed after processing the message". Either is the signature of
// a desync attempt against whatever sits in front of us, so the request is
// refused with 400 and the connection closed, as Envoy does by default.
//
// By the time a handler runs, net/http has deleted both fields from the
// header map, so the evidence is taken from the bytes themselves: on plain
// listeners every connection is wrapped in a framingConn that watches the
// start and end of each line (header names, the request line's version)
// between blank lines. It jumps from newline to newline with IndexByte, so
// bodies cost little, and it stops looking once a connection turns out to be
// h2c. Its verdict is per connection and errs on the side of closing: a
// pipelined request behind the current one, or a body line that looks like a
// header, can only cost a keep-alive connection, never let a request through.
//
// Over TLS the plaintext is inside tls.Conn, which net/http must see unwrapped
// (for ALPN and r.TLS); there an HTTP/1.x request with Transfer-Encoding gets
// "Connection: close" instead, whatever else it carried.

// framingConn is a client connection whose reads are scanned for framing
// conflicts.
type framingConn struct {
	net.Conn
	scan     framingScanner
	conflict atomic.Bool // set by the reading goroutine, read by handlers
}

func (c *framingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.scan.off && c.scan.feed(p[:n]) {
		c.conflict.Store(true)
	}
	return n, err
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
// Only the first len(head) and last len(tail) bytes of a line matter.
type framingScanner struct {
	head    [len("transfer-encoding:")]byte
	tail    [len(" HTTP/1.0\r")]byte
	nhead   int
	ntail   int
	lineLen int
	lines   int // lines seen on the connection, to recognize the h2c preface
	// fields of the current block (lines between two blank lines)
	cl, te, http10 bool
	off            bool // the connection speaks h2c: nothing more to look at
}

// feed scans p and reports whether a block ending in p had a framing conflict.
func (s *framingScanner) feed(p []byte) bool {
	conflict := false
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.add(p)
			return conflict
		}
		s.add(p[:i])
		if s.endLine() {
			conflict = true
		}
		if s.off {
			return conflict
		}
		p = p[i+1:]
	}
	return conflict
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
func (s *framingScanner) endLine() (conflict bool) {
	head, tail := s.head[:s.nhead], s.tail[:s.ntail]
	blank := s.lineLen == 0 || (s.lineLen == 1 && head[0] == '\r')
	s.lines++
	switch {
	case s.lines == 1 && bytes.Equal(head, []byte("PRI * HTTP/2.0\r")):
		s.off = true // the h2c preface: HTTP/2 frames follow
	case blank:
		conflict = s.te && (s.cl || s.http10)
		s.cl, s.te, s.http10 = false, false, false
	case hasPrefixFold(head, "content-length:"):
		s.cl = true
	case hasPrefixFold(head, "transfer-encoding:"):
		s.te = true
	case bytes.HasSuffix(tail, []byte(" HTTP/1.0")) || bytes.HasSuffix(tail, []byte(" HTTP/1.0\r")):
		s.http10 = true
	}
	s.nhead, s.ntail, s.lineLen = 0, 0, 0
	return conflict
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
// requests framed both ways (see above) and h2 requests whose Host field
// disagrees with :authority, before the gateway routes anything.
func guardFraming(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.ProtoMajor {
		case 1:
			if fc, ok := r.Context().Value(connKey{}).(*framingConn); ok {
				if fc.conflict.Load() {
					refuse(w, r, "request framed with both Content-Length and Transfer-Encoding, or Transfer-Encoding in HTTP/1.0")
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
