package grpcweb

import (
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
)

// trailerFlag marks a gRPC-Web frame that carries the trailers, not a
// message (PROTOCOL-WEB.md: the MSB of the frame's first byte).
const trailerFlag = 0x80

// appendTrailerFrame appends the trailers as a gRPC-Web trailer frame: the
// flag byte, the 4-byte big-endian length, then an HTTP/1-style header
// block of lowercase "name: value\r\n" lines. Names are sorted so the
// frame is the same for the same trailers.
func appendTrailerFrame(dst []byte, tr http.Header) []byte {
	keys := make([]string, 0, len(tr))
	n := 0
	for k, vv := range tr {
		keys = append(keys, k)
		for _, v := range vv {
			n += len(k) + 2 + len(v) + 2
		}
	}
	sort.Strings(keys)
	dst = append(dst, trailerFlag, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	for _, k := range keys {
		lk := strings.ToLower(k)
		for _, v := range tr[k] {
			dst = append(dst, lk...)
			dst = append(dst, ':', ' ')
			dst = append(dst, v...)
			dst = append(dst, '\r', '\n')
		}
	}
	return dst
}

// errBadText is a -text body that is not base64 in 4-character quanta.
var errBadText = errors.New("invalid base64 (application/grpc-web-text)")

// errShortText is a -text body whose length is not a multiple of 4.
var errShortText = errors.New("base64 body ends inside a 4-character group (application/grpc-web-text)")

// textReader decodes an application/grpc-web-text body as it streams. A
// client may send it as several base64 pieces, each padded (PROTOCOL-WEB.md
// lets padding fall anywhere on a 4-character boundary), split across
// reads anywhere: each 4-character quantum is decoded on its own terms.
type textReader struct {
	src  io.Reader
	in   []byte // read, not yet decoded: a partial quantum, then more
	out  []byte // decoded, not yet returned
	obuf []byte
	err  error
}

func newTextReader(src io.ReadCloser) io.ReadCloser {
	return &textReaderCloser{textReader{src: src, in: make([]byte, 0, 16<<10)}, src}
}

type textReaderCloser struct {
	textReader
	io.Closer
}

func (t *textReader) Read(p []byte) (int, error) {
	for len(t.out) == 0 {
		if t.err != nil {
			return 0, t.err
		}
		t.fill()
	}
	n := copy(p, t.out)
	t.out = t.out[n:]
	return n, nil
}

// fill reads from src and decodes every complete quantum it holds.
func (t *textReader) fill() {
	held := len(t.in)
	n, err := t.src.Read(t.in[held:cap(t.in)])
	t.in = t.in[:held+n]
	quanta := len(t.in) / 4 * 4
	if quanta > 0 {
		if cap(t.obuf) < quanta/4*3 {
			t.obuf = make([]byte, quanta/4*3)
		}
		out, derr := appendDecoded(t.obuf[:0], t.in[:quanta])
		if derr != nil {
			t.err = derr
			return
		}
		t.out, t.obuf = out, out
		t.in = t.in[:copy(t.in, t.in[quanta:])]
	}
	switch {
	case err == io.EOF && len(t.in) > 0:
		t.err = errShortText
	case err != nil:
		t.err = err
	}
}

// appendDecoded decodes whole 4-character quanta, any of which may be
// padded, to dst.
func appendDecoded(dst, src []byte) ([]byte, error) {
	for len(src) > 0 {
		// The run up to and including the next padded quantum decodes in
		// one call: the standard decoder takes padding only at its end.
		end := len(src)
		if i := indexPad(src); i >= 0 {
			end = (i/4 + 1) * 4
		}
		run := src[:end]
		for _, c := range run {
			if !alphabet[c] {
				return dst, errBadText // the decoder would skip \r and \n
			}
		}
		start, need := len(dst), base64.StdEncoding.DecodedLen(len(run))
		dst = slices.Grow(dst, need)
		n, err := base64.StdEncoding.Decode(dst[start:start+need], run)
		if err != nil {
			return dst, errBadText
		}
		dst = dst[:start+n]
		src = src[end:]
	}
	return dst, nil
}

func indexPad(b []byte) int {
	for i, c := range b {
		if c == '=' {
			return i
		}
	}
	return -1
}

// alphabet is the standard base64 alphabet and its padding.
var alphabet = func() (a [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") {
		a[c] = true
	}
	return a
}()

// decodeText decodes a whole -text body.
func decodeText(b []byte) ([]byte, error) {
	if len(b)%4 != 0 {
		return nil, errShortText
	}
	return appendDecoded(make([]byte, 0, len(b)/4*3), b)
}
