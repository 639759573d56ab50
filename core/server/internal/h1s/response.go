package h1s

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// response is the ResponseWriter of one request: net/http's response in
// behaviour, written differently.
//
// net/http clones the handler's header map when WriteHeader is called and
// serializes the clone, sorted, when the first body bytes are flushed.
// Here WriteHeader serializes the fields into the connection's write
// buffer at once (in map order: field order across names carries no
// meaning), except the few whose fate depends on the body (Content-Length,
// Transfer-Encoding, Connection, Content-Type), which are kept aside and
// written, or not, with the rest of the head when the first body bytes or
// the end of the handler settle it. A handler's later changes to the map
// are ignored, as net/http ignores them, except for declared trailers.
//
// Until the head is settled, body bytes wait in a small buffer, as in
// net/http: a handler that ends having written at most 2 KiB without a
// Content-Length gets one, and a body without a Content-Type gets a
// sniffed one.
type response struct {
	c       *conn
	req     *http.Request
	reqBody io.ReadCloser
	body    *body           // the request body, nil if none
	ecr     *expectContinue // wraps body when the client expects 100-continue
	cancel  context.CancelFunc

	handlerHeader http.Header

	wroteHeader bool // a final status was given (logically written)
	headSent    bool // the head is in the write buffer
	status      int
	chunking    bool

	// Fields kept aside at WriteHeader (see above).
	clValues, teValues, connValues, ctValues []string
	hasCE, hasDate                           bool
	trailers                                 []string  // declared in Trailer
	prefixTrailers                           bool      // some keys carry http.TrailerPrefix, or a Trailer field is set
	snapshot                                 []field   // the other fields, as at WriteHeader
	snapBuf                                  [12]field // snapshot's backing, for most responses

	pending []byte // body bytes held until the head is settled

	written          int64
	contentLength    int64 // declared, or -1
	closeAfterReply  bool
	wants10KeepAlive bool
	wantsClose       bool
	fullDuplex       bool
	handlerDone      bool
	isHEAD           bool

	writeContinueMu  sync.Mutex
	canWriteContinue atomic.Bool

	scratch [64]byte
	clBuf   [20]byte
}

// bufferBeforeChunkingSize is net/http's: the body bytes held before the
// head is settled.
const bufferBeforeChunkingSize = 2048

var pendingPool = sync.Pool{New: func() any { b := make([]byte, 0, bufferBeforeChunkingSize); return &b }}

func (w *response) Header() http.Header {
	if w.handlerHeader == nil {
		w.handlerHeader = make(http.Header)
	}
	return w.handlerHeader
}

func (w *response) disableWriteContinue() {
	w.writeContinueMu.Lock()
	w.canWriteContinue.Store(false)
	w.writeContinueMu.Unlock()
}

func checkWriteHeaderCode(code int) {
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
}

// excludedNoBody are the fields a 1xx head leaves out.
func writeInterim(bw *bufio.Writer, h http.Header, is11 bool, code int, scratch []byte) {
	_, _ = bw.Write(appendStatusLine(scratch[:0], is11, code))
	for k, vv := range h {
		if k == "Content-Length" || k == "Transfer-Encoding" {
			continue
		}
		writeField(bw, k, vv)
	}
	_, _ = bw.WriteString("\r\n")
}

var headerNewlineToSpace = strings.NewReplacer("\n", " ", "\r", " ")

// writeField writes k's values as net/http's Header.Write does: invalid
// names are dropped, CR and LF in values become spaces, values are
// trimmed.
func writeField(bw *bufio.Writer, k string, vv []string) {
	if !httpguts.ValidHeaderFieldName(k) {
		return
	}
	for _, v := range vv {
		if strings.ContainsAny(v, "\r\n") {
			v = headerNewlineToSpace.Replace(v)
		}
		v = trimString(v)
		_, _ = bw.WriteString(k)
		_, _ = bw.WriteString(": ")
		_, _ = bw.WriteString(v)
		_, _ = bw.WriteString("\r\n")
	}
}

// trimString is textproto.TrimString.
func trimString(s string) string {
	for len(s) > 0 && isASCIISpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isASCIISpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isASCIISpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

func (w *response) WriteHeader(code int) {
	if w.c.hijacked {
		w.c.srv.logf("http: response.WriteHeader on hijacked connection")
		return
	}
	if w.wroteHeader {
		w.c.srv.logf("http: superfluous response.WriteHeader call")
		return
	}
	checkWriteHeaderCode(code)
	if code < 101 || code > 199 {
		w.disableWriteContinue()
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		bw := w.c.bw
		writeInterim(bw, w.handlerHeader, w.req.ProtoAtLeast(1, 1), code, w.scratch[:])
		_ = bw.Flush()
		return
	}
	w.wroteHeader = true
	w.status = code

	h := w.handlerHeader
	if cl := headerGet(h, "Content-Length"); cl != "" {
		v, err := strconv.ParseInt(cl, 10, 64)
		if err == nil && v >= 0 {
			w.contentLength = v
		} else {
			w.c.srv.logf("http: invalid Content-Length", "value", cl)
			delete(h, "Content-Length")
		}
	}
	// Keep aside what the head's settling decides on; the rest is
	// serialized when the head is (fields are copied by reference: the
	// map's later changes are not seen).
	w.clValues = h["Content-Length"]
	w.teValues = h["Transfer-Encoding"]
	w.connValues = h["Connection"]
	ctv, haveCT := h["Content-Type"]
	w.ctValues = ctv
	if haveCT && ctv == nil {
		w.ctValues = []string{} // present but nil: no sniffing, nothing written
	}
	w.hasCE = headerGet(h, "Content-Encoding") != ""
	_, w.hasDate = h["Date"]
	for k := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			w.prefixTrailers = true
			break
		}
	}
	for _, v := range h["Trailer"] {
		w.prefixTrailers = true
		foreachHeaderElement(v, w.declareTrailer)
	}
	w.snapshot = snapshotOf(h, w.snapBuf[:0])
}

// snapshotOf copies the map's entries by reference, so the head written
// later is the map as it was at WriteHeader. fs is the backing to append
// to.
func snapshotOf(h http.Header, fs []field) []field {
	if len(h) == 0 {
		return nil
	}
	for k, vv := range h {
		switch k {
		case "Content-Length", "Transfer-Encoding", "Connection", "Content-Type":
			continue
		}
		if strings.HasPrefix(k, http.TrailerPrefix) {
			continue
		}
		fs = append(fs, field{k, vv})
	}
	return fs
}

type field struct {
	k  string
	vv []string
}

func (w *response) declareTrailer(k string) {
	k = http.CanonicalHeaderKey(k)
	if !httpguts.ValidTrailerHeader(k) {
		return
	}
	w.trailers = append(w.trailers, k)
}

func foreachHeaderElement(v string, fn func(string)) {
	v = textprotoTrim(v)
	if v == "" {
		return
	}
	if !strings.Contains(v, ",") {
		fn(v)
		return
	}
	for f := range strings.SplitSeq(v, ",") {
		if f = textprotoTrim(f); f != "" {
			fn(f)
		}
	}
}

func textprotoTrim(s string) string { return trimString(s) }

func headerGet(h http.Header, k string) string {
	if v := h[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func hasToken(v, token string) bool {
	if len(token) > len(v) || token == "" {
		return false
	}
	if v == token {
		return true
	}
	for sp := 0; sp <= len(v)-len(token); sp++ {
		if b := v[sp]; b != token[0] && b|0x20 != token[0] {
			continue
		}
		if sp > 0 && !isTokenBoundary(v[sp-1]) {
			continue
		}
		if endPos := sp + len(token); endPos != len(v) && !isTokenBoundary(v[endPos]) {
			continue
		}
		if strings.EqualFold(v[sp:sp+len(token)], token) {
			return true
		}
	}
	return false
}

func isTokenBoundary(b byte) bool { return b == ' ' || b == ',' || b == '\t' }

func bodyAllowedForStatus(status int) bool {
	switch {
	case status >= 100 && status <= 199:
		return false
	case status == 204:
		return false
	case status == 304:
		return false
	}
	return true
}

func (w *response) Write(p []byte) (int, error) { return w.write(len(p), p, "") }

func (w *response) WriteString(s string) (int, error) { return w.write(len(s), nil, s) }

func (w *response) write(n int, pb []byte, ps string) (int, error) {
	if w.c.hijacked {
		return 0, http.ErrHijacked
	}
	if w.canWriteContinue.Load() {
		w.disableWriteContinue()
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if n == 0 {
		return 0, nil
	}
	if !bodyAllowedForStatus(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(n)
	if w.contentLength != -1 && w.written > w.contentLength {
		return 0, http.ErrContentLength
	}
	if !w.headSent {
		if w.needsSettling() && len(w.pending)+n <= bufferBeforeChunkingSize {
			if w.pending == nil {
				w.pending = (*pendingPool.Get().(*[]byte))[:0]
			}
			if pb != nil {
				w.pending = append(w.pending, pb...)
			} else {
				w.pending = append(w.pending, ps...)
			}
			return n, nil
		}
		var first []byte
		if len(w.pending) > 0 {
			first = w.pending
		} else if pb != nil {
			first = pb
		} else {
			first = []byte(ps[:min(len(ps), 512)])
		}
		w.sendHead(first)
		if len(w.pending) > 0 {
			if err := w.writeBody(w.pending, ""); err != nil {
				w.releasePending()
				return 0, err
			}
			w.releasePending()
		}
	}
	if err := w.writeBody(pb, ps); err != nil {
		return 0, err
	}
	return n, nil
}

// needsSettling reports whether the head waits for body bytes: a
// Content-Length to compute, or a Content-Type to sniff.
func (w *response) needsSettling() bool {
	return w.contentLength == -1 || w.ctValues == nil && !w.hasCE && len(w.teValues) == 0
}

func (w *response) releasePending() {
	if w.pending != nil {
		b := w.pending[:0]
		pendingPool.Put(&b)
		w.pending = nil
	}
}

// writeBody writes body bytes after the head, framed.
func (w *response) writeBody(pb []byte, ps string) error {
	if w.isHEAD {
		return nil
	}
	n := len(pb) + len(ps)
	if n == 0 {
		return nil
	}
	bw := w.c.bw
	if w.chunking {
		b := strconv.AppendInt(w.scratch[:0], int64(n), 16)
		b = append(b, '\r', '\n')
		_, _ = bw.Write(b)
	}
	var err error
	if pb != nil {
		_, err = bw.Write(pb)
	} else {
		_, err = bw.WriteString(ps)
	}
	if w.chunking && err == nil {
		_, err = bw.WriteString("\r\n")
	}
	if err != nil {
		w.c.nc.Close()
	}
	return err
}

// sendHead settles the head, given the first body bytes p, and writes it
// to the connection's buffer: net/http's chunkWriter.writeHeader.
func (w *response) sendHead(p []byte) {
	if w.headSent {
		return
	}
	w.headSent = true
	keepAlivesEnabled := !w.c.srv.shutdown.Load()
	isHEAD := w.isHEAD

	var delCL, delTE, delConn, delCT bool
	var setCL []byte
	var setCT, setConn, setTE string

	trailers := w.prefixTrailers || len(w.trailers) > 0
	te := ""
	if len(w.teValues) > 0 {
		te = w.teValues[0]
	}
	hasTE := te != ""

	if w.handlerDone && !trailers && !hasTE && bodyAllowedForStatus(w.status) && w.clValues == nil && (!isHEAD || len(p) > 0) {
		w.contentLength = int64(len(p))
		setCL = strconv.AppendInt(w.clBuf[:0], int64(len(p)), 10)
	}

	connGet := ""
	if len(w.connValues) > 0 {
		connGet = w.connValues[0]
	}
	if w.wants10KeepAlive && keepAlivesEnabled {
		sentLength := len(w.clValues) > 0 && w.clValues[0] != ""
		if sentLength && connGet == "keep-alive" {
			w.closeAfterReply = false
		}
	}

	hasCL := w.contentLength != -1

	if w.wants10KeepAlive && (isHEAD || hasCL || !bodyAllowedForStatus(w.status)) {
		if w.connValues == nil {
			setConn = "keep-alive"
		}
	} else if !w.req.ProtoAtLeast(1, 1) || w.wantsClose {
		w.closeAfterReply = true
	}

	if connGet == "close" || !keepAlivesEnabled {
		w.closeAfterReply = true
	}

	if w.ecr != nil && !w.ecr.sawEOF.Load() {
		w.closeAfterReply = true
	}

	if w.req.ContentLength != 0 && !w.closeAfterReply && !w.fullDuplex {
		var discard, tooBig bool
		switch {
		case w.ecr != nil:
		case w.body != nil:
			b := w.body
			b.mu.Lock()
			switch {
			case b.closed:
				if !b.sawEOF {
					w.closeAfterReply = true
				}
			case b.unreadLocked() >= maxPostHandlerReadBytes:
				tooBig = true
			default:
				discard = true
			}
			b.mu.Unlock()
		default:
			discard = true
		}
		if discard {
			_, err := io.CopyN(io.Discard, w.reqBody, maxPostHandlerReadBytes+1)
			switch err {
			case nil:
				tooBig = true
			case http.ErrBodyReadAfterClose:
			case io.EOF:
				if err := w.reqBody.Close(); err != nil {
					w.closeAfterReply = true
				}
			default:
				w.closeAfterReply = true
			}
		}
		if tooBig {
			w.closeAfterReply = true
			delConn = true
			setConn = "close"
		}
	}

	code := w.status
	if bodyAllowedForStatus(code) {
		if w.ctValues == nil && !w.hasCE && !hasTE && len(p) > 0 {
			setCT = http.DetectContentType(p)
		}
	} else {
		delCL, delTE = true, true
		if code == http.StatusNotModified {
			delCT = true
		}
	}

	if hasCL && hasTE && te != "identity" {
		w.c.srv.logf("http: WriteHeader called with both Transfer-Encoding and a Content-Length", "te", te)
		delCL = true
		hasCL = false
	}

	if isHEAD || !bodyAllowedForStatus(code) || code == http.StatusNoContent {
		delTE = true
	} else if hasCL {
		delTE = true
	} else if w.req.ProtoAtLeast(1, 1) {
		if hasTE && te == "identity" {
			w.chunking = false
			w.closeAfterReply = true
			delTE = true
		} else {
			w.chunking = true
			setTE = "chunked"
			if hasTE && te == "chunked" {
				delTE = true
			}
		}
	} else {
		w.closeAfterReply = true
		delTE = true
	}
	if w.chunking {
		delCL = true
	}

	if w.closeAfterReply && (!keepAlivesEnabled || !hasToken(connGet, "close")) && !isProtocolSwitch(code, w.connValues) {
		delConn = true
		if w.req.ProtoAtLeast(1, 1) {
			setConn = "close"
		}
	}

	bw := w.c.bw
	_, _ = bw.Write(appendStatusLine(w.scratch[:0], w.req.ProtoAtLeast(1, 1), code))
	for _, f := range w.snapshot {
		writeField(bw, f.k, f.vv)
	}
	if !delCL {
		writeField(bw, "Content-Length", w.clValues)
	}
	if !delTE {
		writeField(bw, "Transfer-Encoding", w.teValues)
	}
	if !delConn {
		writeField(bw, "Connection", w.connValues)
	}
	if !delCT {
		writeField(bw, "Content-Type", w.ctValues)
	}
	if !w.hasDate {
		_, _ = bw.WriteString("Date: ")
		_, _ = bw.Write(httpDate())
		_, _ = bw.WriteString("\r\n")
	}
	if setCL != nil {
		_, _ = bw.WriteString("Content-Length: ")
		_, _ = bw.Write(setCL)
		_, _ = bw.WriteString("\r\n")
	}
	for i, v := range [3]string{setCT, setConn, setTE} {
		if v != "" {
			_, _ = bw.WriteString(extraKeys[i])
			_, _ = bw.WriteString(v)
			_, _ = bw.WriteString("\r\n")
		}
	}
	_, _ = bw.WriteString("\r\n")
}

var extraKeys = [3]string{"Content-Type: ", "Connection: ", "Transfer-Encoding: "}

func isProtocolSwitch(code int, conn []string) bool {
	return code == http.StatusSwitchingProtocols && httpguts.HeaderValuesContainsToken(conn, "Upgrade")
}

// httpDate is the Date field's value, formatted once a second.
func httpDate() []byte {
	now := time.Now()
	sec := now.Unix()
	if d := dateCache.Load(); d != nil && d.sec == sec {
		return d.b
	}
	d := &cachedDate{sec: sec, b: now.UTC().AppendFormat(make([]byte, 0, len(http.TimeFormat)), http.TimeFormat)}
	dateCache.Store(d)
	return d.b
}

type cachedDate struct {
	sec int64
	b   []byte
}

var dateCache atomic.Pointer[cachedDate]

// finishRequest ends the response after its handler returned.
func (w *response) finishRequest() {
	w.handlerDone = true
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headSent {
		w.sendHead(w.pending)
		if len(w.pending) > 0 {
			_ = w.writeBody(w.pending, "")
		}
	}
	w.releasePending()
	bw := w.c.bw
	if w.chunking && !w.isHEAD {
		_, _ = bw.WriteString("0\r\n")
		if t := w.finalTrailers(); t != nil {
			for k, vv := range t {
				writeField(bw, k, vv)
			}
		}
		_, _ = bw.WriteString("\r\n")
	}
	_ = bw.Flush()
	w.c.cr.abortPendingRead()
	_ = w.reqBody.Close()
}

func (w *response) finalTrailers() http.Header {
	var t http.Header
	for k, vv := range w.handlerHeader {
		if kk, found := strings.CutPrefix(k, http.TrailerPrefix); found {
			if t == nil {
				t = make(http.Header)
			}
			t[kk] = vv
		}
	}
	for _, k := range w.trailers {
		if t == nil {
			t = make(http.Header)
		}
		for _, v := range w.handlerHeader[k] {
			t.Add(k, v)
		}
	}
	return t
}

func (w *response) shouldReuseConnection() bool {
	if w.closeAfterReply {
		return false
	}
	if !w.isHEAD && w.contentLength != -1 && bodyAllowedForStatus(w.status) && w.contentLength != w.written {
		return false
	}
	if w.c.werr != nil {
		return false
	}
	return !w.closedRequestBodyEarly()
}

func (w *response) closedRequestBodyEarly() bool {
	return w.body != nil && w.body.didEarlyClose()
}

// Flush implements http.Flusher.
func (w *response) Flush() { _ = w.FlushError() }

// FlushError is what http.ResponseController.Flush calls.
func (w *response) FlushError() error {
	if w.c.hijacked {
		return http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headSent {
		w.sendHead(w.pending)
		if len(w.pending) > 0 {
			if err := w.writeBody(w.pending, ""); err != nil {
				w.releasePending()
				return err
			}
		}
		w.releasePending()
	}
	return w.c.bw.Flush()
}

// SetReadDeadline, SetWriteDeadline and EnableFullDuplex are what
// http.ResponseController calls.
func (w *response) SetReadDeadline(t time.Time) error  { return w.c.setReadDeadline(t) }
func (w *response) SetWriteDeadline(t time.Time) error { return w.c.handlerWriteDeadline(t) }
func (w *response) EnableFullDuplex() error {
	w.fullDuplex = true
	return nil
}

// Hijack implements http.Hijacker.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.handlerDone {
		panic("h1s: Hijack called after ServeHTTP finished")
	}
	c := w.c
	if c.hijacked {
		return nil, nil, http.ErrHijacked
	}
	if w.wroteHeader {
		if !w.headSent {
			w.sendHead(w.pending)
			if len(w.pending) > 0 {
				_ = w.writeBody(w.pending, "")
			}
			w.releasePending()
		}
		_ = c.bw.Flush()
	}
	c.cr.abortPendingRead()
	c.hijacked = true
	_ = c.setReadDeadline(time.Time{})
	_ = c.setWriteDeadline(time.Time{})
	if c.bw != nil {
		_ = c.bw.Flush()
		putWriter(c.bw)
		c.bw = nil
	}
	rw := bufio.NewReadWriter(c.br, bufio.NewWriter(c.nc))
	if c.cr.hasByte {
		if _, err := c.br.Peek(c.br.Buffered() + 1); err != nil {
			return nil, nil, err
		}
	}
	c.br = nil // the hijacker's now
	c.srv.buffered.Add(-1)
	if c.srv.OnHijack != nil {
		c.srv.OnHijack(c.nc)
	}
	return c.nc, rw, nil
}

// sendExpectationFailed answers an Expect other than 100-continue.
func (w *response) sendExpectationFailed() {
	w.Header().Set("Connection", "close")
	w.WriteHeader(http.StatusExpectationFailed)
	w.finishRequest()
}

// compile-time contracts
var (
	_ http.ResponseWriter = (*response)(nil)
	_ http.Flusher        = (*response)(nil)
	_ http.Hijacker       = (*response)(nil)
	_ io.StringWriter     = (*response)(nil)
)
