package gateway

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"net/http"
	"net/textproto"
	"unsafe"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
)

// requestID takes the client's request ID from a header, or generates one,
// then passes it to the upstream (the request header) and returns it to the
// client (set on the response before anything else, so every response,
// local or proxied, carries it).
type requestID struct {
	header   string // canonical form
	generate bool
}

func newRequestID(c *config.RequestID) *requestID {
	if c == nil {
		return nil
	}
	return &requestID{header: textproto.CanonicalMIMEHeaderKey(c.Header), generate: c.Generate == nil || *c.Generate}
}

func (q *requestID) apply(w http.ResponseWriter, r *http.Request, x *filter.Exchange) {
	vv := r.Header[q.header]
	switch {
	case len(vv) == 1 && validRequestID(vv[0]):
		x.RequestID = vv[0]
	case q.generate:
		vv = generateRequestID()
		x.RequestID = vv[0]
		r.Header[q.header] = vv
	default:
		delete(r.Header, q.header) // malformed or repeated: not ours to pass on
		return
	}
	w.Header()[q.header] = vv
}

// validRequestID accepts up to 128 visible ASCII characters, without quotes
// or backslashes, so a client's ID cannot break a log line.
func validRequestID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// generateRequestID returns 128 random bits in hex, as a header's values.
// It needs to be unique, not unguessable, so it uses the runtime's
// per-thread generator: no lock. The string and its slice are one
// allocation.
func generateRequestID() []string {
	v := new(struct {
		vv  [1]string
		out [32]byte
	})
	var raw [16]byte
	binary.LittleEndian.PutUint64(raw[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(raw[8:], rand.Uint64())
	hex.Encode(v.out[:], raw[:])
	v.vv[0] = unsafe.String(&v.out[0], len(v.out)) // out is not written again
	return v.vv[:]
}
