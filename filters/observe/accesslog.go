package observe

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/wasmgate/wasmgate/core/filter"
)

// entry is one access-log line's data, copied from the exchange at End (the
// exchange is reused right after). It is sent by value: no allocation.
type entry struct {
	fields     *fieldSet
	time       time.Time
	duration   time.Duration
	upstreamD  time.Duration
	traceID    [16]byte
	hasTrace   bool
	clientIP   netip.Addr
	requestID  string
	method     string
	host       string
	path       string
	protocol   string
	route      string
	upstream   string
	target     string
	consumer   string
	rejectedBy string
	userAgent  string
	err        string
	status     int
	attempts   int
	bytesIn    int64
	bytesOut   int64
}

// fieldSet is a snapshot's compiled choice of fields, in order.
type fieldSet struct{ ids []fieldID }

type fieldID uint8

const (
	fTime fieldID = iota
	fRequestID
	fTraceID
	fClientIP
	fMethod
	fHost
	fPath
	fProtocol
	fRoute
	fStatus
	fBytesIn
	fBytesOut
	fDuration
	fUpstreamDuration
	fUpstream
	fUpstreamTarget
	fAttempts
	fConsumer
	fRejectedBy
	fUserAgent
	fError
)

func compileFields(names []string) *fieldSet {
	fs := &fieldSet{}
	for _, n := range names {
		for i, known := range AccessLogFields {
			if n == known {
				fs.ids = append(fs.ids, fieldID(i))
			}
		}
	}
	return fs
}

// accessLog writes entries from a bounded queue on its own goroutine, so a
// slow sink never stalls a request: when the queue is full the line is
// dropped and counted. It is kept across reloads that keep its sink.
type accessLog struct {
	queue   chan entry
	dropped atomic.Int64
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once

	out    *bufio.Writer
	file   *os.File // nil for stdout and stderr
	text   bool
	pause  time.Duration // how long the writer lets lines gather after a batch
	buf    []byte
	hexBuf [32]byte
	ipBuf  []byte
}

// accessLogKey is what an open access log depends on: a reload that
// changes none of it keeps writing to the same file through the same buffer.
type accessLogKey struct {
	format, path string
	buffer       int
}

func newAccessLogKey(c *AccessLog) accessLogKey {
	return accessLogKey{format: c.Format, path: c.Path, buffer: c.Buffer}
}

// checkAccessLog tells whether the access log could be opened, without
// creating it: an existing file must open for appending, a new one needs
// its directory.
func checkAccessLog(c *AccessLog) error {
	if c.Path == "stdout" || c.Path == "stderr" {
		return nil
	}
	f, err := os.OpenFile(c.Path, os.O_WRONLY|os.O_APPEND, 0)
	if err == nil {
		return f.Close()
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	dir := filepath.Dir(c.Path)
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

func newAccessLog(c *AccessLog) (*accessLog, error) {
	l := &accessLog{
		queue: make(chan entry, c.Buffer),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
		text:  c.Format == "text",
	}
	var w io.Writer
	switch c.Path {
	case "stdout":
		w = os.Stdout
	case "stderr":
		w = os.Stderr
	default:
		f, err := os.OpenFile(c.Path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		l.file, w = f, f
	}
	l.out = bufio.NewWriterSize(w, 64<<10)
	if c.Buffer >= minBatchBuffer {
		l.pause = batchPause
	}
	go l.run()
	return l, nil
}

// The writer works in batches: once it has written what was queued (and
// flushed it), it sleeps batchPause before it looks again, so that under
// load one wake-up and one write(2) serve many lines instead of one each.
// Lines reach the sink at most about batchPause late. A queue too small to
// hold a pause's worth of lines at high rates is drained eagerly instead.
const (
	batchPause     = time.Millisecond
	minBatchBuffer = 256
)

// log queues e, or counts it dropped; it reports whether it was queued.
func (l *accessLog) log(e *entry) bool {
	select {
	case l.queue <- *e:
		return true
	default:
		l.dropped.Add(1)
		return false
	}
}

func (l *accessLog) run() {
	defer close(l.done)
	for {
		select {
		case e := <-l.queue:
			l.write(&e)
			for drained := false; !drained; {
				select {
				case e := <-l.queue:
					l.write(&e)
				default:
					drained = true
				}
			}
			_ = l.out.Flush()
			if l.pause > 0 {
				time.Sleep(l.pause)
			}
		case <-l.stop:
			for {
				select {
				case e := <-l.queue:
					l.write(&e)
				default:
					_ = l.out.Flush()
					return
				}
			}
		}
	}
}

// Close writes what is queued and closes the sink. Lines logged after Close
// (a request finishing on a retired snapshot) stay in the queue, unwritten.
func (l *accessLog) Close() error {
	l.once.Do(func() { close(l.stop) })
	select {
	case <-l.done:
	case <-time.After(5 * time.Second):
	}
	if l.file != nil {
		return l.file.Close()
	}
	return nil
}

func (l *accessLog) write(e *entry) {
	if l.text {
		l.writeText(e)
		return
	}
	l.buf = appendJSON(l.buf[:0], e)
	_, _ = l.out.Write(l.buf)
}

// jsonKeys are the fields' keys, quoted, with their colon.
var jsonKeys = func() []string {
	keys := make([]string, len(AccessLogFields))
	for i, k := range AccessLogFields {
		keys[i] = strconv.Quote(k) + ":"
	}
	return keys
}()

// appendJSON appends e as one JSON line, byte for byte what log/slog's
// JSONHandler wrote before (the time first, RFC 3339 with nanoseconds, then
// the other chosen fields in order, strings escaped as slog escapes them),
// without its per-record work: no attrs, no reflection, no allocation.
func appendJSON(b []byte, e *entry) []byte {
	b = append(b, '{')
	n := len(b)
	for _, id := range e.fields.ids {
		if id == fTime && !e.time.IsZero() {
			b = append(b, `"time":"`...)
			b = e.time.AppendFormat(b, time.RFC3339Nano)
			b = append(b, '"')
			break
		}
	}
	for _, id := range e.fields.ids {
		if id == fTime {
			continue
		}
		if len(b) > n {
			b = append(b, ',')
		}
		b = append(b, jsonKeys[id]...)
		switch id {
		case fRequestID:
			b = appendJSONString(b, e.requestID)
		case fTraceID:
			b = append(b, '"')
			if e.hasTrace {
				b = hex.AppendEncode(b, e.traceID[:])
			}
			b = append(b, '"')
		case fClientIP:
			b = append(b, '"')
			if e.clientIP.IsValid() {
				b = e.clientIP.AppendTo(b)
			}
			b = append(b, '"')
		case fMethod:
			b = appendJSONString(b, e.method)
		case fHost:
			b = appendJSONString(b, e.host)
		case fPath:
			b = appendJSONString(b, e.path)
		case fProtocol:
			b = appendJSONString(b, e.protocol)
		case fRoute:
			b = appendJSONString(b, e.route)
		case fStatus:
			b = strconv.AppendInt(b, int64(e.status), 10)
		case fBytesIn:
			b = strconv.AppendInt(b, e.bytesIn, 10)
		case fBytesOut:
			b = strconv.AppendInt(b, e.bytesOut, 10)
		case fDuration:
			b = strconv.AppendInt(b, e.duration.Microseconds(), 10)
		case fUpstreamDuration:
			b = strconv.AppendInt(b, e.upstreamD.Microseconds(), 10)
		case fUpstream:
			b = appendJSONString(b, e.upstream)
		case fUpstreamTarget:
			b = appendJSONString(b, e.target)
		case fAttempts:
			b = strconv.AppendInt(b, int64(e.attempts), 10)
		case fConsumer:
			b = appendJSONString(b, e.consumer)
		case fRejectedBy:
			b = appendJSONString(b, e.rejectedBy)
		case fUserAgent:
			b = appendJSONString(b, e.userAgent)
		case fError:
			b = appendJSONString(b, e.err)
		}
	}
	return append(b, '}', '\n')
}

// appendJSONString appends s quoted, escaped as log/slog escapes: '"', '\\'
// and control bytes; invalid UTF-8 as U+FFFD; U+2028 and U+2029.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// writeText writes the common log format, extended:
//
//	client - consumer [time] "METHOD path PROTO" status bytes_out key=value...
//
// with the remaining chosen fields as key=value pairs ("-" when empty).
func (l *accessLog) writeText(e *entry) {
	b := l.buf[:0]
	b = append(b, dash(l.clientIP(e))...)
	b = append(b, " - "...)
	b = append(b, dash(e.consumer)...)
	b = append(b, " ["...)
	b = e.time.AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	b = append(b, "] \""...)
	b = append(b, e.method...)
	b = append(b, ' ')
	q := len(b) // the path quoted (quotes dropped), so no odd byte breaks the line
	b = strconv.AppendQuote(b, e.path)
	b = append(b[:q], b[q+1:len(b)-1]...)
	b = append(b, ' ')
	b = append(b, e.protocol...)
	b = append(b, "\" "...)
	b = strconv.AppendInt(b, int64(e.status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.bytesOut, 10)
	kv := func(k, v string) {
		b = append(b, ' ')
		b = append(b, k...)
		b = append(b, '=')
		b = append(b, dash(v)...)
	}
	num := func(k string, v int64) {
		b = append(b, ' ')
		b = append(b, k...)
		b = append(b, '=')
		b = strconv.AppendInt(b, v, 10)
	}
	for _, id := range e.fields.ids {
		switch id {
		case fRequestID:
			kv("request_id", e.requestID)
		case fTraceID:
			kv("trace_id", l.traceID(e))
		case fHost:
			kv("host", e.host)
		case fRoute:
			kv("route", e.route)
		case fBytesIn:
			num("bytes_in", e.bytesIn)
		case fDuration:
			num("duration_us", e.duration.Microseconds())
		case fUpstreamDuration:
			num("upstream_duration_us", e.upstreamD.Microseconds())
		case fUpstream:
			kv("upstream", e.upstream)
		case fUpstreamTarget:
			kv("upstream_target", e.target)
		case fAttempts:
			num("attempts", int64(e.attempts))
		case fRejectedBy:
			kv("rejected_by", e.rejectedBy)
		case fUserAgent:
			kv("user_agent", strconv.Quote(e.userAgent))
		case fError:
			kv("error", strconv.Quote(e.err))
		}
	}
	b = append(b, '\n')
	l.buf = b
	_, _ = l.out.Write(b)
}

// traceID and clientIP format into the writer's own buffers and return
// strings that alias them: valid until the next line is formatted, which is
// after the handler has copied them into its output. No allocation per line.
func (l *accessLog) traceID(e *entry) string {
	if !e.hasTrace {
		return ""
	}
	hex.Encode(l.hexBuf[:], e.traceID[:])
	return unsafe.String(&l.hexBuf[0], len(l.hexBuf))
}

func (l *accessLog) clientIP(e *entry) string {
	if !e.clientIP.IsValid() {
		return ""
	}
	l.ipBuf = e.clientIP.AppendTo(l.ipBuf[:0])
	return unsafe.String(unsafe.SliceData(l.ipBuf), len(l.ipBuf))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// fill copies what the access log needs from x into e.
func (e *entry) fill(x *filter.Exchange, fields *fieldSet, now time.Time) {
	r := x.Request
	*e = entry{
		fields:     fields,
		time:       x.Start,
		duration:   now.Sub(x.Start),
		upstreamD:  x.UpstreamDuration,
		clientIP:   x.ClientIP,
		requestID:  x.RequestID,
		method:     r.Method,
		host:       r.Host,
		path:       pathOf(r.RequestURI),
		protocol:   r.Proto,
		route:      x.Route,
		upstream:   x.Upstream,
		target:     x.Target,
		rejectedBy: x.RejectedBy,
		userAgent:  r.Header.Get("User-Agent"),
		status:     x.Status,
		attempts:   x.Attempts,
		bytesIn:    x.BytesIn,
		bytesOut:   x.BytesOut,
	}
	if x.Consumer != nil {
		e.consumer = x.Consumer.Name
	}
	if sc := x.Span().SpanContext(); sc.IsValid() {
		e.traceID, e.hasTrace = sc.TraceID(), true
	}
	if x.Err != nil {
		e.err = x.Err.Error()
	}
}

// pathOf is the request target as the client sent it, without the query
// (which may carry credentials).
func pathOf(requestURI string) string {
	if i := strings.IndexByte(requestURI, '?'); i >= 0 {
		return requestURI[:i]
	}
	return requestURI
}
