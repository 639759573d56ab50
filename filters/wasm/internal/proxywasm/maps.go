package proxywasm

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/wasmrt"
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

// The header-map host functions: the maps of the running exchange (its
// request, its response in the response phase) and of the callout
// response being delivered (read-only).

// headerMap is the map a map type names for the current callback, or nil.
type headerMap struct {
	e        exchange
	request  bool
	h        http.Header
	writable bool
	call     *CallResponse // a callout response (map types 6 and 7), read-only
	trailers bool
}

func headerMapOf(h Host, mapType uint32) (headerMap, Status) {
	if mapType == MapCallHeaders || mapType == MapCallTrailers {
		return calloutMap(h, mapType)
	}
	x, st := h.Current()
	if st == nil {
		return headerMap{}, StatusNotFound // the root context has no stream
	}
	s := exchange{x, st}
	switch mapType {
	case MapRequestHeaders:
		return headerMap{e: s, request: true, h: s.request().Header, writable: st.Phase == PhaseRequest}, StatusOK
	case MapResponseHeaders:
		resp := s.response()
		if resp == nil {
			return headerMap{}, StatusNotFound
		}
		if resp.Header == nil {
			resp.Header = http.Header{}
		}
		return headerMap{e: s, h: resp.Header, writable: st.Phase == PhaseResponse}, StatusOK
	case MapRequestTrailers, MapResponseTrailers:
		return headerMap{}, StatusNotFound
	default:
		return headerMap{}, StatusBadArgument
	}
}

func (m headerMap) pairs(dst []Pair) []Pair {
	return HeaderPairs(m.pseudo(dst), m.h)
}

func (m headerMap) pseudo(dst []Pair) []Pair {
	if m.trailers {
		return dst
	}
	if m.call != nil {
		return append(dst, Pair{K: ":status", V: strconv.Itoa(m.call.Status)})
	}
	if m.request {
		return RequestPseudo(dst, m.e.request())
	}
	return append(dst, Pair{K: ":status", V: strconv.Itoa(m.e.response().Status)})
}

func (m headerMap) get(key string) (string, bool) {
	if strings.HasPrefix(key, ":") {
		var buf [4]Pair
		for _, p := range m.pseudo(buf[:0]) {
			if p.K == key {
				return p.V, true
			}
		}
		return "", false
	}
	vv := m.h[http.CanonicalHeaderKey(key)]
	switch len(vv) {
	case 0:
		return "", false
	case 1:
		return vv[0], true
	default:
		return strings.Join(vv, ","), true
	}
}

// setPseudo replaces a pseudo-header: :path, :method, :authority on
// requests, :status on responses.
func (m headerMap) setPseudo(key, value string) Status {
	if m.request {
		r := m.e.request()
		switch key {
		case ":path":
			if !strings.HasPrefix(value, "/") {
				return StatusBadArgument
			}
			path, query, _ := strings.Cut(value, "?")
			r.URL.Path, r.URL.RawPath, r.URL.RawQuery = path, "", query
			if u, err := r.URL.Parse(value); err == nil {
				r.URL.Path, r.URL.RawPath, r.URL.RawQuery = u.Path, u.RawPath, u.RawQuery
			}
		case ":method":
			if value == "" || strings.ContainsAny(value, " \t\r\n") {
				return StatusBadArgument
			}
			r.Method = value
		case ":authority":
			r.Host = value
		default:
			return StatusBadArgument
		}
		return StatusOK
	}
	if key != ":status" {
		return StatusBadArgument
	}
	code := 0
	for _, c := range []byte(value) {
		if c < '0' || c > '9' || code > 999 {
			return StatusBadArgument
		}
		code = code*10 + int(c-'0')
	}
	if code < 100 || code > 599 {
		return StatusBadArgument
	}
	m.e.response().Status = code
	return StatusOK
}

func hostGetMapPairs(ctx context.Context, h Host, mem api.Memory, a []uint64) Status {
	m, st := headerMapOf(h, Arg(a, 0))
	if st != StatusOK {
		return st
	}
	scr := h.Scratch()
	*scr = AppendMap((*scr)[:0], m.pairs(nil))
	return Give(ctx, h, mem, *scr, Arg(a, 1), Arg(a, 2))
}

func hostGetMapSize(_ context.Context, h Host, mem api.Memory, a []uint64) Status {
	m, st := headerMapOf(h, Arg(a, 0))
	if st != StatusOK {
		return st
	}
	scr := h.Scratch()
	*scr = AppendMap((*scr)[:0], m.pairs(nil))
	if mem == nil || !mem.WriteUint32Le(Arg(a, 1), uint32(len(*scr))) {
		return StatusInvalidMemoryAccess
	}
	return StatusOK
}

func hostSetMapPairs(_ context.Context, h Host, mem api.Memory, a []uint64) Status {
	m, st := headerMapOf(h, Arg(a, 0))
	if st != StatusOK {
		return st
	}
	if !m.writable {
		return StatusBadArgument
	}
	b, ok := Read(mem, Arg(a, 1), Arg(a, 2))
	if !ok {
		return StatusInvalidMemoryAccess
	}
	pairs, ok := ParseMap(b)
	if !ok {
		return StatusBadArgument
	}
	for _, p := range pairs {
		if !strings.HasPrefix(p.K, ":") && !wasmrt.ValidHeader(p.K, p.V) {
			return StatusBadArgument
		}
	}
	clear(m.h)
	m.edited(":") // every header may have changed
	for _, p := range pairs {
		if strings.HasPrefix(p.K, ":") {
			if st := m.setPseudo(p.K, p.V); st != StatusOK && p.K != ":scheme" {
				return st
			}
			continue
		}
		m.h.Add(p.K, p.V)
	}
	return StatusOK
}

func hostGetMapValue(ctx context.Context, h Host, mem api.Memory, a []uint64) Status {
	m, st := headerMapOf(h, Arg(a, 0))
	if st != StatusOK {
		return st
	}
	key, ok := Read(mem, Arg(a, 1), Arg(a, 2))
	if !ok {
		return StatusInvalidMemoryAccess
	}
	v, found := m.get(string(key))
	if !found {
		return StatusNotFound
	}
	scr := h.Scratch()
	*scr = append((*scr)[:0], v...)
	return Give(ctx, h, mem, *scr, Arg(a, 3), Arg(a, 4))
}

// mapKV reads the key and value arguments of add and replace.
func mapKV(h Host, mem api.Memory, a []uint64) (m headerMap, k, v string, st Status) {
	m, st = headerMapOf(h, Arg(a, 0))
	if st != StatusOK {
		return
	}
	kb, ok1 := Read(mem, Arg(a, 1), Arg(a, 2))
	vb, ok2 := Read(mem, Arg(a, 3), Arg(a, 4))
	if !ok1 || !ok2 {
		return m, "", "", StatusInvalidMemoryAccess
	}
	if !m.writable {
		return m, "", "", StatusBadArgument
	}
	k, v = string(kb), string(vb)
	if !strings.HasPrefix(k, ":") && !wasmrt.ValidHeader(k, v) {
		return m, "", "", StatusBadArgument
	}
	return m, k, v, StatusOK
}

func hostAddMapValue(_ context.Context, h Host, mem api.Memory, a []uint64) Status {
	m, k, v, st := mapKV(h, mem, a)
	if st != StatusOK {
		return st
	}
	m.edited(k)
	if strings.HasPrefix(k, ":") {
		return m.setPseudo(k, v)
	}
	ck := http.CanonicalHeaderKey(k)
	m.h[ck] = append(m.h[ck], v)
	return StatusOK
}

func hostReplaceMapValue(_ context.Context, h Host, mem api.Memory, a []uint64) Status {
	m, k, v, st := mapKV(h, mem, a)
	if st != StatusOK {
		return st
	}
	m.edited(k)
	if strings.HasPrefix(k, ":") {
		return m.setPseudo(k, v)
	}
	m.h[http.CanonicalHeaderKey(k)] = []string{v}
	return StatusOK
}

func hostRemoveMapValue(_ context.Context, h Host, mem api.Memory, a []uint64) Status {
	m, st := headerMapOf(h, Arg(a, 0))
	if st != StatusOK {
		return st
	}
	key, ok := Read(mem, Arg(a, 1), Arg(a, 2))
	if !ok {
		return StatusInvalidMemoryAccess
	}
	if !m.writable || bytes.HasPrefix(key, []byte(":")) {
		return StatusBadArgument
	}
	m.edited(string(key))
	delete(m.h, http.CanonicalHeaderKey(string(key)))
	return StatusOK
}

// calloutMap is the callout response being delivered, as a header map.
func calloutMap(h Host, mapType uint32) (headerMap, Status) {
	c := h.Delivering()
	if c == nil {
		return headerMap{}, StatusNotFound
	}
	if mapType == MapCallTrailers {
		if c.Trailer == nil {
			c.Trailer = http.Header{}
		}
		return headerMap{h: c.Trailer, call: c, trailers: true}, StatusOK
	}
	return headerMap{h: c.Header, call: c}, StatusOK
}
