package proxywasm

import (
	"encoding/binary"
	"net/http"
	"sort"
	"strings"
)

// Header maps as the spec serializes them: a u32 pair count, then a u32 key
// length and u32 value length per pair, then each key and value followed by
// a NUL byte. All integers little-endian.

// Pair is one header field as the guest sees it (lowercase names).
type Pair struct{ K, V string }

// AppendMap serializes pairs into dst.
func AppendMap(dst []byte, pairs []Pair) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(pairs)))
	for _, p := range pairs {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(p.K)))
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(p.V)))
	}
	for _, p := range pairs {
		dst = append(dst, p.K...)
		dst = append(dst, 0)
		dst = append(dst, p.V...)
		dst = append(dst, 0)
	}
	return dst
}

// ParseMap deserializes a map; ok is false if it is malformed. An empty
// buffer or a single 0x00 is the empty map.
func ParseMap(b []byte) (pairs []Pair, ok bool) {
	if len(b) == 0 || (len(b) == 1 && b[0] == 0) {
		return nil, true
	}
	if len(b) < 4 {
		return nil, false
	}
	n := binary.LittleEndian.Uint32(b)
	if uint64(n)*8+4 > uint64(len(b)) {
		return nil, false
	}
	sizes := b[4 : 4+8*n]
	data := b[4+8*n:]
	pairs = make([]Pair, 0, n)
	for i := uint32(0); i < n; i++ {
		kl := uint64(binary.LittleEndian.Uint32(sizes[8*i:]))
		vl := uint64(binary.LittleEndian.Uint32(sizes[8*i+4:]))
		if kl+vl+2 > uint64(len(data)) || data[kl] != 0 || data[kl+1+vl] != 0 {
			return nil, false
		}
		pairs = append(pairs, Pair{string(data[:kl]), string(data[kl+1 : kl+1+vl])})
		data = data[kl+vl+2:]
	}
	return pairs, true
}

// HeaderPairs lists h as lowercase pairs, one per value, sorted by name so
// the guest sees a stable order.
func HeaderPairs(dst []Pair, h http.Header) []Pair {
	start := len(dst)
	for k, vv := range h {
		lk := Lower(k)
		for _, v := range vv {
			dst = append(dst, Pair{lk, v})
		}
	}
	tail := dst[start:]
	sort.SliceStable(tail, func(i, j int) bool { return tail[i].K < tail[j].K })
	return dst
}

// RequestPseudo appends Envoy's request pseudo-headers of r.
func RequestPseudo(dst []Pair, r *http.Request) []Pair {
	return append(dst,
		Pair{":authority", r.Host},
		Pair{":path", r.URL.RequestURI()},
		Pair{":method", r.Method},
		Pair{":scheme", Scheme(r)},
	)
}

// Scheme is the request's scheme, as :scheme and request.scheme show it.
func Scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	if r.URL.Scheme != "" {
		return r.URL.Scheme
	}
	return "http"
}

// Lower lowercases an ASCII header name, without allocating if it is already.
func Lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
