package h1

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"github.com/wasmgate/wasmgate/core/internal/httpsyntax"
	"golang.org/x/net/http/httpguts"
)

// The request head is written as net/http writes it, less what a proxy
// does not want: no default User-Agent (an empty one is left out), no
// Accept-Encoding, fields unsorted. Framing fields in the header map are
// ignored; the body's declared length frames the request: Content-Length,
// else chunked. Every name and value is checked as net/http checks them, so
// a filter's field can never split the head.

// requestError is a request that cannot be written (a bad field, a body
// shorter than its length): the request's fault, not the connection's.
type requestError struct{ msg string }

func (e *requestError) Error() string { return "upstream request: " + e.msg }

// bodyReadError is the request body's reader failing: the client's side.
type bodyReadError struct{ err error }

func (e *bodyReadError) Error() string { return e.err.Error() }
func (e *bodyReadError) Unwrap() error { return e.err }

// outLength is the length the request body is framed with: 0 for none, -1
// for chunked.
func outLength(req *http.Request, body io.Reader) int64 {
	if body == nil || body == http.NoBody {
		return 0
	}
	if req.ContentLength == 0 {
		return -1 // a body of unknown length, as net/http reads it
	}
	return req.ContentLength
}

// writeRequest writes req's head and body and flushes. A *requestError or
// *bodyReadError says the request or its body failed; any other error is
// the connection's. bodyRead is how many body bytes were taken from body.
func (c *conn) writeRequest(req *http.Request, body io.Reader) (bodyRead int64, err error) {
	c.partSent = false
	n := outLength(req, body)
	if err := c.writeHead(req, n); err != nil {
		return 0, err
	}
	switch {
	case n > 0:
		bodyRead, err = c.writeFixed(body, n)
	case n < 0:
		bodyRead, err = c.writeChunked(body, req.Trailer)
	}
	if err != nil {
		return bodyRead, err
	}
	return bodyRead, c.flushRequest()
}

func (c *conn) writeHead(req *http.Request, length int64) error {
	if !validMethod(req.Method) {
		return &requestError{"invalid method " + strconv.Quote(req.Method)}
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if !httpguts.ValidHostHeader(host) {
		return &requestError{"invalid Host " + strconv.Quote(host)}
	}
	bw := c.bw
	bw.WriteString(req.Method)
	bw.WriteByte(' ')
	if err := writeTarget(bw, req.URL); err != nil {
		return err
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
	for k, vv := range req.Header {
		switch k {
		case "Host", "Content-Length", "Transfer-Encoding", "Trailer":
			continue
		case "User-Agent":
			// net/http sends the first value only, and none when empty.
			if len(vv) > 0 && httpsyntax.TrimOWS(vv[0]) != "" {
				vv = vv[:1]
			} else {
				continue
			}
		}
		if !httpguts.ValidHeaderFieldName(k) {
			return &requestError{"invalid header field name " + strconv.Quote(k)}
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return &requestError{"invalid header field value for " + strconv.Quote(k)}
			}
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(httpsyntax.TrimOWS(v))
			bw.WriteString("\r\n")
		}
	}
	switch {
	case length > 0:
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(bw.AvailableBuffer(), length, 10))
		bw.WriteString("\r\n")
	case length < 0:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
		if len(req.Trailer) > 0 {
			bw.WriteString("Trailer: ")
			first := true
			for k := range req.Trailer {
				if !httpguts.ValidHeaderFieldName(k) {
					return &requestError{"invalid trailer name " + strconv.Quote(k)}
				}
				if !first {
					bw.WriteString(",")
				}
				first = false
				bw.WriteString(k)
			}
			bw.WriteString("\r\n")
		}
	case req.Method == "POST" || req.Method == "PUT" || req.Method == "PATCH":
		// As net/http: some servers want a length on these even when empty.
		bw.WriteString("Content-Length: 0\r\n")
	}
	if req.Close {
		bw.WriteString("Connection: close\r\n")
	}
	_, err := bw.WriteString("\r\n")
	return err
}

// writeTarget writes the origin-form request target: the escaped path and
// the query. Neither may hold a byte that would end the request line.
func writeTarget(bw interface {
	WriteString(string) (int, error)
	WriteByte(byte) error
}, u *url.URL) error {
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if !targetSafe(path) || !targetSafe(u.RawQuery) {
		return &requestError{"request target holds a space or a control character"}
	}
	if path[0] != '/' && path != "*" {
		bw.WriteByte('/')
	}
	bw.WriteString(path)
	if u.RawQuery != "" || u.ForceQuery {
		bw.WriteByte('?')
		bw.WriteString(u.RawQuery)
	}
	return nil
}

func targetSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b <= ' ' || b == 0x7f {
			return false
		}
	}
	return true
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		if !httpsyntax.TokenByte(m[i]) {
			return false
		}
	}
	return true
}

var errShortBody = &requestError{"request body shorter than its Content-Length"}

// writeFixed copies exactly n body bytes, read straight into the writer's
// buffer.
func (c *conn) writeFixed(body io.Reader, n int64) (int64, error) {
	bw := c.bw
	var read int64
	for read < n {
		if bw.Available() == 0 {
			if err := bw.Flush(); err != nil {
				return read, err
			}
		}
		buf := bw.AvailableBuffer()
		buf = buf[:min(int64(cap(buf)), n-read)]
		m, err := body.Read(buf)
		read += int64(m)
		if _, werr := bw.Write(buf[:m]); werr != nil {
			return read, werr
		}
		switch {
		case err == io.EOF && read < n:
			return read, errShortBody
		case err != nil && err != io.EOF:
			return read, &bodyReadError{err}
		}
	}
	return read, nil
}

var chunkBufs = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// writeChunked streams the body in chunks, one per read, flushing each (a
// streamed request's parts reach the upstream as they come), then the last
// chunk and the trailers.
func (c *conn) writeChunked(body io.Reader, trailer http.Header) (int64, error) {
	bp := chunkBufs.Get().(*[]byte)
	defer chunkBufs.Put(bp)
	buf := *bp
	bw := c.bw
	var read int64
	for {
		m, err := body.Read(buf)
		read += int64(m)
		if m > 0 {
			bw.Write(strconv.AppendUint(bw.AvailableBuffer(), uint64(m), 16))
			bw.WriteString("\r\n")
			bw.Write(buf[:m])
			bw.WriteString("\r\n")
			if ferr := bw.Flush(); ferr != nil {
				return read, ferr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return read, &bodyReadError{err}
		}
	}
	bw.WriteString("0\r\n")
	for k, vv := range trailer { // filled in by the time the body ended
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldName(k) || !httpguts.ValidHeaderFieldValue(v) {
				return read, &requestError{"invalid trailer field " + strconv.Quote(k)}
			}
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(httpsyntax.TrimOWS(v))
			bw.WriteString("\r\n")
		}
	}
	_, err := bw.WriteString("\r\n")
	return read, err
}

// isRequestFault reports an error of the request or its body rather than
// of the connection.
func isRequestFault(err error) bool {
	var re *requestError
	var be *bodyReadError
	return errors.As(err, &re) || errors.As(err, &be)
}
