package wasm

import (
	"encoding/binary"
	"net/http"
	"sort"
	"strings"
)

// Header maps as the spec serializes them: a u32 pair count, then a u32 key
// length and u32 value length per pair, then each key and value followed by
// a NUL byte. All integers little-endian.

// pair is one header field as the guest sees it (lowercase names).
type pair struct{ k, v string }

// appendMap serializes pairs into dst.
func appendMap(dst []byte, pairs []pair) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(pairs)))
	for _, p := range pairs {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(p.k)))
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(p.v)))
	}
	for _, p := range pairs {
		dst = append(dst, p.k...)
		dst = append(dst, 0)
		dst = append(dst, p.v...)
		dst = append(dst, 0)
	}
	return dst
}

// parseMap deserializes a map; ok is false if it is malformed. An empty
// buffer or a single 0x00 is the empty map.
func parseMap(b []byte) (pairs []pair, ok bool) {
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
	pairs = make([]pair, 0, n)
	for i := uint32(0); i < n; i++ {
		kl := uint64(binary.LittleEndian.Uint32(sizes[8*i:]))
		vl := uint64(binary.LittleEndian.Uint32(sizes[8*i+4:]))
		if kl+vl+2 > uint64(len(data)) || data[kl] != 0 || data[kl+1+vl] != 0 {
			return nil, false
		}
		pairs = append(pairs, pair{string(data[:kl]), string(data[kl+1 : kl+1+vl])})
		data = data[kl+vl+2:]
	}
	return pairs, true
}

// headerPairs lists h as lowercase pairs, one per value, sorted by name so
// the guest sees a stable order.
func headerPairs(dst []pair, h http.Header) []pair {
	start := len(dst)
	for k, vv := range h {
		lk := lower(k)
		for _, v := range vv {
			dst = append(dst, pair{lk, v})
		}
	}
	tail := dst[start:]
	sort.SliceStable(tail, func(i, j int) bool { return tail[i].k < tail[j].k })
	return dst
}

// requestPseudo appends Envoy's request pseudo-headers.
func (s *stream) requestPseudo(dst []pair) []pair {
	r := s.request()
	return append(dst,
		pair{":authority", r.Host},
		pair{":path", r.URL.RequestURI()},
		pair{":method", r.Method},
		pair{":scheme", scheme(r)},
	)
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	if r.URL.Scheme != "" {
		return r.URL.Scheme
	}
	return "http"
}

// lower lowercases an ASCII header name, without allocating if it is already.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
