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
	answeredBy string
	grpcStatus string
	userAgent  string
	err        string
	status     int
	attempts   int
	bytesIn    int64
	bytesOut   int64
}

// fieldSet is a snapshot's compiled choice of fields, in order: indexes
// into fields.
type fieldSet struct{ ids []uint8 }

// field is one access-log field: its name (in the config and in the line)
// and how each format writes its value. text is nil for the fields the text
// format writes in its fixed, common-log prefix.
type field struct {
	name string
	json func(b []byte, e *entry) []byte
	text func(b []byte, e *entry) []byte
}

// fields is every access-log field, in the default order; the config's
// list of valid names (AccessLogFields) is read from it. "time" is first:
// the JSON writer puts it first whatever the order chosen.
var fields = [...]field{
	{name: "time"}, // both formats write it apart
	{"request_id", jsonStr(func(e *entry) string { return e.requestID }), textStr(func(e *entry) string { return e.requestID })},
	{"trace_id", func(b []byte, e *entry) []byte {
		b = append(b, '"')
		if e.hasTrace {
			b = hex.AppendEncode(b, e.traceID[:])
		}
		return append(b, '"')
	}, func(b []byte, e *entry) []byte {
		if !e.hasTrace {
			return append(b, '-')
		}
		return hex.AppendEncode(b, e.traceID[:])
	}},
	{"client_ip", func(b []byte, e *entry) []byte {
		b = append(b, '"')
		if e.clientIP.IsValid() {
			b = e.clientIP.AppendTo(b)
		}
		return append(b, '"')
	}, nil},
	{"method", jsonStr(func(e *entry) string { return e.method }), nil},
	{"host", jsonStr(func(e *entry) string { return e.host }), textStr(func(e *entry) string { return e.host })},
	{"path", jsonStr(func(e *entry) string { return e.path }), nil},
	{"protocol", jsonStr(func(e *entry) string { return e.protocol }), nil},
	{"route", jsonStr(func(e *entry) string { return e.route }), textStr(func(e *entry) string { return e.route })},
	{"status", jsonInt(func(e *entry) int64 { return int64(e.status) }), nil},
	{"bytes_in", jsonInt(func(e *entry) int64 { return e.bytesIn }), jsonInt(func(e *entry) int64 { return e.bytesIn })},
	{"bytes_out", jsonInt(func(e *entry) int64 { return e.bytesOut }), nil},
	{"duration_us", jsonInt(func(e *entry) int64 { return e.duration.Microseconds() }), jsonInt(func(e *entry) int64 { return e.duration.Microseconds() })},
	{"upstream_duration_us", jsonInt(func(e *entry) int64 { return e.upstreamD.Microseconds() }), jsonInt(func(e *entry) int64 { return e.upstreamD.Microseconds() })},
	{"upstream", jsonStr(func(e *entry) string { return e.upstream }), textStr(func(e *entry) string { return e.upstream })},
	{"upstream_target", jsonStr(func(e *entry) string { return e.target }), textStr(func(e *entry) string { return e.target })},
	{"attempts", jsonInt(func(e *entry) int64 { return int64(e.attempts) }), jsonInt(func(e *entry) int64 { return int64(e.attempts) })},
	{"consumer", jsonStr(func(e *entry) string { return e.consumer }), nil},
	{"rejected_by", jsonStr(func(e *entry) string { return e.rejectedBy }), textStr(func(e *entry) string { return e.rejectedBy })},
	{"answered_by", jsonStr(func(e *entry) string { return e.answeredBy }), textStr(func(e *entry) string { return e.answeredBy })},
	{"grpc_status", jsonStr(func(e *entry) string { return e.grpcStatus }), textStr(func(e *entry) string { return e.grpcStatus })},
	{"user_agent", jsonStr(func(e *entry) string { return e.userAgent }), textQuoted(func(e *entry) string { return e.userAgent })},
	{"error", jsonStr(func(e *entry) string { return e.err }), textQuoted(func(e *entry) string { return e.err })},
}

func jsonStr(v func(*entry) string) func([]byte, *entry) []byte {
	return func(b []byte, e *entry) []byte { return appendJSONString(b, v(e)) }
}

func jsonInt(v func(*entry) int64) func([]byte, *entry) []byte {
	return func(b []byte, e *entry) []byte { return strconv.AppendInt(b, v(e), 10) }
}

// textStr writes a value as is, "-" when empty; textQuoted quoted (free
// text: a space or a quote must not break the line).
func textStr(v func(*entry) string) func([]byte, *entry) []byte {
	return func(b []byte, e *entry) []byte {
		if s := v(e); s != "" {
			return append(b, s...)
		}
		return append(b, '-')
	}
}

func textQuoted(v func(*entry) string) func([]byte, *entry) []byte {
	return func(b []byte, e *entry) []byte { return strconv.AppendQuote(b, v(e)) }
}

func compileFields(names []string) *fieldSet {
	fs := &fieldSet{}
	for _, n := range names {
		for i := range fields {
			if fields[i].name == n {
				fs.ids = append(fs.ids, uint8(i))
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

	out   *bufio.Writer
	file  *os.File // nil for stdout and stderr
	text  bool
	pause time.Duration // how long the writer lets lines gather after a batch
	buf   []byte
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
	keys := make([]string, len(fields))
	for i, f := range fields {
		keys[i] = strconv.Quote(f.name) + ":"
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
		if id == 0 && !e.time.IsZero() {
			b = append(b, `"time":"`...)
			b = e.time.AppendFormat(b, time.RFC3339Nano)
			b = append(b, '"')
			break
		}
	}
	for _, id := range e.fields.ids {
		if id == 0 {
			continue
		}
		if len(b) > n {
			b = append(b, ',')
		}
		b = append(b, jsonKeys[id]...)
		b = fields[id].json(b, e)
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
	if e.clientIP.IsValid() {
		b = e.clientIP.AppendTo(b)
	} else {
		b = append(b, '-')
	}
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
	for _, id := range e.fields.ids {
		f := &fields[id]
		if f.text == nil {
			continue // in the prefix
		}
		b = append(b, ' ')
		b = append(b, f.name...)
		b = append(b, '=')
		b = f.text(b, e)
	}
	b = append(b, '\n')
	l.buf = b
	_, _ = l.out.Write(b)
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
		answeredBy: x.AnsweredBy,
		grpcStatus: x.GRPCStatus,
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
