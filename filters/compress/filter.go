package compress

import (
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/wasmgate/wasmgate/core/filter"
)

// Filter compresses responses and, if configured, decodes request bodies.
type Filter struct {
	prefs   []coding
	minSize int64
	types   typeMatcher
	pools   [4]*sync.Pool // by coding; nil for identity and codings not offered
	decode  int64         // decoded-size cap of request bodies; 0: not decoded

	compressed [4]*filter.Counter // responses, by coding
	bytesIn    [4]*filter.Counter
	bytesOut   [4]*filter.Counter
	decoded    *filter.Counter
	refused    *filter.Counter // request bodies over the cap or malformed
}

// stateKey keys a response's stream in the exchange.
type stateKey struct{ f *Filter }

var (
	mCompressed = filter.Metric{Name: "wasmgate.compress.responses", Unit: "{response}",
		Help: "Responses compressed, by route and encoding."}
	mBytesIn = filter.Metric{Name: "wasmgate.compress.in", Unit: "By",
		Help: "Response body bytes before compression, by route and encoding."}
	mBytesOut = filter.Metric{Name: "wasmgate.compress.out", Unit: "By",
		Help: "Response body bytes after compression, by route and encoding."}
	mDecoded = filter.Metric{Name: "wasmgate.compress.requests_decoded", Unit: "{request}",
		Help: "Compressed request bodies decoded, by route."}
	mRefused = filter.Metric{Name: "wasmgate.compress.requests_refused", Unit: "{request}",
		Help: "Compressed request bodies refused before the upstream (over the decoded-size cap, or malformed), by route."}
)

// pools are shared by every filter with the same coding and level, across
// routes and reloads: a pooled encoder is only worth keeping if many
// responses take from its pool.
var pools = struct {
	sync.Mutex
	m map[[2]int]*sync.Pool
}{m: map[[2]int]*sync.Pool{}}

func poolFor(c coding, level int) *sync.Pool {
	pools.Lock()
	defer pools.Unlock()
	k := [2]int{int(c), level}
	if p := pools.m[k]; p != nil {
		return p
	}
	p := newPool(c, level)
	pools.m[k] = p
	return p
}

// Build resolves the defaults and the pools.
func (c *Config) Build(bc *filter.BuildContext) (filter.Filter, error) {
	f := &Filter{minSize: defaultMinSize}
	if c.MinSize != nil {
		f.minSize = int64(*c.MinSize)
	}
	names := c.Encodings
	if names == nil {
		names = defaultEncodings
	}
	levels := [4]int{gzipCoding: or(c.Levels.Gzip, defaultGzipLevel), brCoding: or(c.Levels.Br, defaultBrLevel), zstdCoding: or(c.Levels.Zstd, defaultZstdLevel)}
	route := filter.Label{Key: "route", Value: bc.Route}
	for _, n := range names {
		cd := codingOf(n)
		f.prefs = append(f.prefs, cd)
		f.pools[cd] = poolFor(cd, levels[cd])
		enc := filter.Label{Key: "encoding", Value: n}
		f.compressed[cd] = bc.Counter(mCompressed, route, enc)
		f.bytesIn[cd] = bc.Counter(mBytesIn, route, enc)
		f.bytesOut[cd] = bc.Counter(mBytesOut, route, enc)
	}
	types := c.ContentTypes
	if types == nil {
		types = defaultContentTypes
	}
	f.types = newTypeMatcher(types)
	if d := c.DecompressRequests; d != nil {
		f.decode = int64(d.Max)
		if f.decode == 0 {
			f.decode = defaultMaxDecode
		}
		f.decoded = bc.Counter(mDecoded, route)
		f.refused = bc.Counter(mRefused, route)
	}
	return f, nil
}

func or(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Needs: the response body streams through the filter.
func (f *Filter) Needs() filter.Needs { return filter.Needs{StreamResponseBody: true} }

// OnRequest decodes a compressed request body, if configured: a body the
// chain buffered at once, within the cap; a streamed one as it is read.
func (f *Filter) OnRequest(x *filter.Exchange) *filter.Response {
	if f.decode == 0 {
		return nil
	}
	r := x.Request
	c := decodingFor(r.Header)
	if c == identity {
		return nil
	}
	if x.RequestBody != nil {
		body, local := decodeWhole(x.RequestBody, c, f.decode)
		if local != nil {
			f.refused.Inc()
			return local
		}
		x.RequestBody = body
		r.Body = http.NoBody
		if len(body) > 0 {
			r.Body = readCloser{strings.NewReader(string(body))}
		}
		r.ContentLength = int64(len(body))
		r.Header["Content-Length"] = []string{strconv.Itoa(len(body))}
	} else {
		if r.Body == nil || r.Body == http.NoBody {
			return nil
		}
		r.Body = newDecoder(r.Body, c, f.decode)
		r.ContentLength = -1
		delete(r.Header, "Content-Length")
	}
	delete(r.Header, "Content-Encoding")
	f.decoded.Inc()
	return nil
}

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }

// OnResponse decides whether the response is compressed, and with what.
// Its headers change here; the body follows in OnResponseBody.
func (f *Filter) OnResponse(x *filter.Exchange) *filter.Response {
	resp := x.Response
	if resp.Local || x.Request.Method == http.MethodHead || !compressibleStatus(resp.Status) {
		return nil
	}
	h := resp.Header
	if h == nil {
		return nil
	}
	if ce := h["Content-Encoding"]; len(ce) > 0 && !(len(ce) == 1 && strings.EqualFold(strings.TrimSpace(ce[0]), "identity")) {
		return nil // already encoded: never twice
	}
	if h["Content-Range"] != nil || noTransform(h["Cache-Control"]) {
		return nil
	}
	ct := h["Content-Type"]
	if len(ct) == 0 || !f.types.match(ct[0]) {
		return nil
	}
	length := int64(-1)
	if resp.Body != nil {
		length = int64(len(resp.Body))
	} else if cl := h["Content-Length"]; len(cl) == 1 {
		if n, err := strconv.ParseInt(cl[0], 10, 64); err == nil {
			length = n
		}
	}
	if length == 0 || (length > 0 && length < f.minSize) {
		return nil
	}
	// From here the representation depends on Accept-Encoding, whether
	// this client gets it compressed or not: caches must know.
	addVary(h)
	c := negotiate(x.Request.Header["Accept-Encoding"], f.prefs)
	if c == identity {
		return nil
	}
	s := getStream(f.pools[c])
	s.flush = length < 0 || strings.HasPrefix(strings.ToLower(ct[0]), "text/event-stream")
	x.Set(stateKey{f}, s)
	f.compressed[c].Inc()

	h["Content-Encoding"] = []string{c.String()}
	delete(h, "Content-Length")
	delete(h, "Content-Md5")
	// Byte ranges of the encoded body are not offered (a range request
	// is forwarded as is, and a 206 is never compressed).
	delete(h, "Accept-Ranges")
	// The encoded body is another representation: a strong validator of
	// the original would claim byte-for-byte identity (RFC 9110 §8.8.1).
	if et := h["Etag"]; len(et) == 1 && strings.HasPrefix(et[0], `"`) {
		h["Etag"] = []string{"W/" + et[0]}
	}
	return nil
}

// OnResponseBody compresses each chunk as it passes. A response of unknown
// length (a stream: SSE, chunked progress) is flushed after each chunk the
// upstream sent, so every event reaches the client compressed but
// without waiting for the next.
func (f *Filter) OnResponseBody(x *filter.Exchange, b *filter.Body) (filter.BodyAction, *filter.Response) {
	s, _ := x.Value(stateKey{f}).(*stream)
	if s == nil {
		return filter.BodyContinue, nil
	}
	c := s.coding
	f.bytesIn[c].Add(uint64(len(b.Buf)))
	var err error
	if len(b.Buf) > 0 {
		_, err = s.enc.Write(b.Buf)
	}
	switch {
	case err != nil:
	case b.End:
		err = s.enc.Close()
	case s.flush:
		err = s.enc.Flush()
	}
	if err != nil {
		// An encoder writing to memory fails only on a bug; the client
		// must see a broken response rather than a wrong one.
		x.Set(stateKey{f}, (*stream)(nil))
		return filter.BodyContinue, filter.Error(http.StatusInternalServerError, "compression failed")
	}
	// The encoder consumed b.Buf: its array takes the output (one copy).
	b.Buf = append(b.Buf[:0], s.out.Bytes()...)
	f.bytesOut[c].Add(uint64(len(b.Buf)))
	s.out.Reset()
	if b.End {
		x.Set(stateKey{f}, (*stream)(nil))
		s.release()
	}
	return filter.BodyContinue, nil
}

// OnDone returns the encoder of a response that did not end (the client
// went away, the upstream broke) to its pool; Reset readies it for reuse.
func (f *Filter) OnDone(x *filter.Exchange) {
	if s, _ := x.Value(stateKey{f}).(*stream); s != nil {
		x.Set(stateKey{f}, (*stream)(nil))
		s.release()
	}
}

// compressibleStatus: a response with a body that is the whole
// representation. 206 is a part of one; 204 and 304 have no body.
func compressibleStatus(s int) bool {
	return s >= 200 && s != http.StatusNoContent && s != http.StatusPartialContent && s != http.StatusNotModified
}

// noTransform: Cache-Control: no-transform forbids intermediaries to
// change the content coding (RFC 9111 §5.2.2.6).
func noTransform(cc []string) bool {
	for _, v := range cc {
		for _, d := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(d), "no-transform") {
				return true
			}
		}
	}
	return false
}

// addVary adds Accept-Encoding to Vary unless it (or "*") is there.
func addVary(h http.Header) {
	for _, v := range h["Vary"] {
		for _, n := range strings.Split(v, ",") {
			n = strings.TrimSpace(n)
			if n == "*" || strings.EqualFold(n, "Accept-Encoding") {
				return
			}
		}
	}
	h["Vary"] = append(h["Vary"], "Accept-Encoding")
}

var (
	_ filter.Filter             = (*Filter)(nil)
	_ filter.ResponseFilter     = (*Filter)(nil)
	_ filter.ResponseBodyFilter = (*Filter)(nil)
	_ filter.DoneFilter         = (*Filter)(nil)
	_ filter.BodyFilter         = (*Filter)(nil)
)
