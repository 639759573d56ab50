package compress

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/wasmgate/wasmgate/core/filter"
)

// Request bodies: one known coding in Content-Encoding (gzip, x-gzip, br,
// zstd) is decoded, within the decoded-size cap. Anything else (identity,
// an unknown coding, several codings stacked) goes on as the client sent
// it: the upstream may understand it, and decoding half of a stack would
// only mislabel the body.

// decodingFor returns the coding of a request body this filter decodes,
// or identity.
func decodingFor(h http.Header) coding {
	ce := h["Content-Encoding"]
	if len(ce) != 1 {
		return identity
	}
	switch strings.ToLower(strings.TrimSpace(ce[0])) {
	case "gzip", "x-gzip":
		return gzipCoding
	case "br":
		return brCoding
	case "zstd":
		return zstdCoding
	}
	return identity
}

// decoders are pooled: a zstd decoder in particular is costly to make.
var (
	gzipReaders sync.Pool
	zstdReaders = sync.Pool{New: func() any {
		// The window is bounded as RFC 9659 has recipients do: a frame
		// declaring a larger one is refused before memory is taken for it.
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(8<<20))
		if err != nil {
			panic("compress: zstd decoder options: " + err.Error())
		}
		return d
	}}
	brReaders sync.Pool
)

// decoder reads a coded body as its decoded bytes, failing once they pass
// max. It takes its decoder from a pool on the first read, so a request
// whose body is never read costs none, and returns it at the end.
type decoder struct {
	src    io.ReadCloser
	srcErr error // the client's read error, told apart from a coding error
	c      coding
	dec    io.Reader
	left   int64
	max    int64
	err    error
}

func newDecoder(src io.ReadCloser, c coding, max int64) *decoder {
	return &decoder{src: src, c: c, left: max, max: max}
}

func (d *decoder) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	if d.dec == nil {
		if d.err = d.open(); d.err != nil {
			return 0, d.err
		}
	}
	if int64(len(p)) > d.left+1 {
		p = p[:d.left+1] // one byte more than allowed tells "over" from "exactly"
	}
	n, err := d.dec.Read(p)
	if int64(n) > d.left {
		d.finish(tooLargeError(d.max))
		return int(d.left), d.err
	}
	d.left -= int64(n)
	if err == io.EOF {
		d.finish(io.EOF)
	} else if err != nil {
		d.finish(d.codingError(err))
	}
	return n, d.err
}

func (d *decoder) open() error {
	var err error
	src := sourceReader{d}
	switch d.c {
	case gzipCoding:
		zr, _ := gzipReaders.Get().(*gzip.Reader)
		if zr == nil {
			zr, err = gzip.NewReader(src)
		} else {
			err = zr.Reset(src)
		}
		if err != nil {
			return d.codingError(err)
		}
		zr.Multistream(true)
		d.dec = zr
	case brCoding:
		br, _ := brReaders.Get().(*brotli.Reader)
		if br == nil {
			br = brotli.NewReader(src)
		} else if err = br.Reset(src); err != nil {
			return d.codingError(err)
		}
		d.dec = br
	default:
		zr := zstdReaders.Get().(*zstd.Decoder)
		if err = zr.Reset(src); err != nil {
			zstdReaders.Put(zr)
			return d.codingError(err)
		}
		d.dec = zr
	}
	return nil
}

// finish records how the body ended and returns the decoder to its pool.
func (d *decoder) finish(err error) {
	d.err = err
	switch dec := d.dec.(type) {
	case *gzip.Reader:
		gzipReaders.Put(dec)
	case *brotli.Reader:
		brReaders.Put(dec)
	case *zstd.Decoder:
		_ = dec.Reset(nil) // drops its reference to the body
		zstdReaders.Put(dec)
	}
	d.dec = nil
}

// codingError is the client's own read error if there was one (it went
// away, was too slow, or sent more than the route allows: the proxy has
// answers for each), else a body that is not what its Content-Encoding
// says, which the proxy answers with 400.
func (d *decoder) codingError(err error) error {
	if d.srcErr != nil && d.srcErr != io.EOF {
		return d.srcErr
	}
	return &malformedError{coding: d.c, cause: err.Error()}
}

// Close closes the client's body. A decoder abandoned mid-stream is left
// to the garbage collector rather than pooled.
func (d *decoder) Close() error {
	if d.err == nil {
		d.err = errors.New("request body closed")
		d.dec = nil
	}
	return d.src.Close()
}

// sourceReader reads the client's body for the decoder, keeping its error.
type sourceReader struct{ d *decoder }

func (s sourceReader) Read(p []byte) (int, error) {
	n, err := s.d.src.Read(p)
	if err != nil {
		s.d.srcErr = err
	}
	return n, err
}

// malformedError is a body that does not decode. It wraps nothing, so the
// proxy's classification cannot take an io.ErrUnexpectedEOF from a cut
// stream for a client that went away.
type malformedError struct {
	coding coding
	cause  string
}

func (e *malformedError) Error() string {
	return "request body is not valid " + e.coding.String() + ": " + e.cause
}

// tooLargeError is the error the proxy (and the chain's body streaming)
// answer with 413.
func tooLargeError(max int64) error { return &http.MaxBytesError{Limit: max} }

// decodeWhole decodes a buffered body (the route's chain buffers request
// bodies), within max. A non-nil Response refuses the request.
func decodeWhole(body []byte, c coding, max int64) ([]byte, *filter.Response) {
	d := newDecoder(io.NopCloser(bytes.NewReader(body)), c, max)
	out, err := io.ReadAll(d)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLargeResponse(max)
		}
		return nil, filter.Error(http.StatusBadRequest, err.Error())
	}
	return out, nil
}

func tooLargeResponse(max int64) *filter.Response {
	return filter.Error(http.StatusRequestEntityTooLarge, "decoded request body exceeds "+strconv.FormatInt(max, 10)+" bytes")
}
