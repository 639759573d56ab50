package h1s

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"sync"
	"sync/atomic"
)

// maxPostHandlerReadBytes is how much of a request body the server reads
// after its handler to keep the connection (net/http's figure).
const maxPostHandlerReadBytes = 256 << 10

// body is a request body: Content-Length bytes or a chunked body with its
// trailer section, read from the connection's buffer. It is net/http's
// server body in behaviour: EOF with the last bytes, io.ErrUnexpectedEOF
// for a short body, http.ErrBodyReadAfterClose, trailers merged into the
// request's Trailer, and a close that reads what is left of a small body
// so that the connection can serve the next request.
type body struct {
	mu       sync.Mutex
	src      io.Reader
	lr       io.LimitedReader // src for a Content-Length body
	br       *bufio.Reader
	req      *http.Request // for the trailer of a chunked body
	chunked  bool
	sawEOF   bool
	closed   bool
	early    bool   // closed with too much left to read: the connection cannot be reused
	onHitEOF func() // called once, when EOF is seen
}

func (b *body) initLength(br *bufio.Reader, n int64) {
	b.br = br
	b.lr = io.LimitedReader{R: br, N: n}
	b.src = &b.lr
}

func (b *body) initChunked(br *bufio.Reader, req *http.Request) {
	b.br, b.req, b.chunked = br, req, true
	b.src = httputil.NewChunkedReader(br)
}

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	return b.readLocked(p)
}

func (b *body) readLocked(p []byte) (n int, err error) {
	if b.sawEOF {
		return 0, io.EOF
	}
	n, err = b.src.Read(p)
	if err == io.EOF {
		b.sawEOF = true
		if b.chunked {
			if e := b.readTrailer(); e != nil {
				err = e
				b.sawEOF = false
				b.closed = true
			}
		} else if b.lr.N > 0 {
			err = io.ErrUnexpectedEOF
		}
	}
	if err == nil && n > 0 && !b.chunked && b.lr.N == 0 {
		err = io.EOF
		b.sawEOF = true
	}
	if b.sawEOF && b.onHitEOF != nil {
		f := b.onHitEOF
		b.onHitEOF = nil
		f()
	}
	return n, err
}

var (
	singleCRLF = []byte("\r\n")
	doubleCRLF = []byte("\r\n\r\n")
)

var errTrailerEOF = errors.New("http: unexpected EOF reading trailer")

// readTrailer is net/http's: the trailer section may not outgrow the
// connection's read buffer.
func (b *body) readTrailer() error {
	buf, err := b.br.Peek(2)
	if bytes.Equal(buf, singleCRLF) {
		_, _ = b.br.Discard(2)
		return nil
	}
	if len(buf) < 2 {
		return errTrailerEOF
	}
	if err != nil {
		return err
	}
	if !seeUpcomingDoubleCRLF(b.br) {
		return errors.New("http: suspiciously long trailer after chunked body")
	}
	hdr, err := textproto.NewReader(b.br).ReadMIMEHeader()
	if err != nil {
		if err == io.EOF {
			return errTrailerEOF
		}
		return err
	}
	if b.req.Trailer == nil {
		b.req.Trailer = http.Header(hdr)
	} else {
		maps.Copy(b.req.Trailer, http.Header(hdr))
	}
	return nil
}

func seeUpcomingDoubleCRLF(r *bufio.Reader) bool {
	for peekSize := 4; ; peekSize++ {
		buf, err := r.Peek(peekSize)
		if bytes.HasSuffix(buf, doubleCRLF) {
			return true
		}
		if err != nil {
			break
		}
	}
	return false
}

// remains reports whether the body has bytes left to read.
func (b *body) remains() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.sawEOF
}

// registerOnHitEOF arranges for f once the body is read to its end.
func (b *body) registerOnHitEOF(f func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.onHitEOF = f
}

// unreadLocked is the number of body bytes left, -1 if unknown.
func (b *body) unreadLocked() int64 {
	if !b.chunked {
		return b.lr.N
	}
	return -1
}

// Close ends the body: what is left of it is read and discarded, unless
// that is more than maxPostHandlerReadBytes (the connection then closes).
func (b *body) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	var err error
	switch {
	case b.sawEOF:
	case !b.chunked && b.lr.N > maxPostHandlerReadBytes:
		b.early = true
	default:
		var n int64
		n, err = io.CopyN(io.Discard, bodyLocked{b}, maxPostHandlerReadBytes)
		if err == io.EOF {
			err = nil
		}
		if n == maxPostHandlerReadBytes {
			b.early = true
		}
	}
	b.closed = true
	return err
}

func (b *body) didEarlyClose() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.early
}

type bodyLocked struct{ b *body }

func (bl bodyLocked) Read(p []byte) (int, error) {
	if bl.b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	return bl.b.readLocked(p)
}

// expectContinue is a body whose client waits for "100 Continue" before
// it sends the body: the first read sends it, unless the response has
// begun.
type expectContinue struct {
	body   *body
	w      *response
	sawEOF atomic.Bool
	closed atomic.Bool
}

func (e *expectContinue) Read(p []byte) (int, error) {
	if e.closed.Load() {
		return 0, http.ErrBodyReadAfterClose
	}
	w := e.w
	if w.canWriteContinue.Load() {
		w.writeContinueMu.Lock()
		if w.canWriteContinue.Load() {
			bw := w.c.bw
			_, _ = bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
			_ = bw.Flush()
			w.canWriteContinue.Store(false)
		}
		w.writeContinueMu.Unlock()
	}
	n, err := e.body.Read(p)
	if err == io.EOF {
		e.sawEOF.Store(true)
	}
	return n, err
}

func (e *expectContinue) Close() error {
	e.closed.Store(true)
	return e.body.Close()
}
