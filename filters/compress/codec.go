package compress

import (
	"bytes"
	"io"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// encoder is what the three codings' writers have in common.
type encoder interface {
	io.WriteCloser
	Flush() error
	Reset(io.Writer)
}

// zstdWindow bounds a zstd encoder's window, and so its memory: RFC 9659
// has HTTP recipients refuse windows over 8 MiB, and 1 MiB keeps a pooled
// encoder small while losing little on API-sized bodies.
const zstdWindow = 1 << 20

// newEncoder makes a writer of c at level onto w.
func newEncoder(c coding, level int, w io.Writer) encoder {
	switch c {
	case gzipCoding:
		e, err := gzip.NewWriterLevel(w, level)
		if err != nil {
			panic("compress: gzip level checked at load: " + err.Error())
		}
		return e
	case brCoding:
		return brotli.NewWriterLevel(w, level)
	default:
		// Concurrency 1: the encoder compresses in the caller's goroutine,
		// as the others do, rather than starting goroutines per stream.
		e, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.EncoderLevel(level)),
			zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(zstdWindow))
		if err != nil {
			panic("compress: zstd level checked at load: " + err.Error())
		}
		return e
	}
}

// stream is one response's compressor: an encoder from its pool and the
// buffer it writes to. Streams are pooled per coding and level, encoder
// and buffer together: an encoder costs tens to hundreds of KiB to set up.
type stream struct {
	enc    encoder
	out    bytes.Buffer
	pool   *sync.Pool
	coding coding
	flush  bool // flush after every chunk: the upstream streams
}

// maxKeptBuffer: a stream whose buffer grew past this is not kept whole in
// the pool, so one large response does not pin its buffer forever.
const maxKeptBuffer = 256 << 10

func newPool(c coding, level int) *sync.Pool {
	p := &sync.Pool{}
	p.New = func() any {
		s := &stream{pool: p, coding: c}
		s.enc = newEncoder(c, level, &s.out)
		return s
	}
	return p
}

func getStream(p *sync.Pool) *stream {
	s := p.Get().(*stream)
	s.enc.Reset(&s.out)
	return s
}

func (s *stream) release() {
	if s.out.Cap() > maxKeptBuffer {
		s.out = bytes.Buffer{} // the same field: the encoder's writer still
	}
	s.out.Reset()
	s.pool.Put(s)
}
