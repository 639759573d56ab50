package observe

import (
	"bufio"
	"context"
	"encoding/hex"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/wasmgate/wasmgate/core/config"
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
		for i, known := range config.AccessLogFields {
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
	json   *slog.Logger
	attrs  []slog.Attr
	text   bool
	buf    []byte
	hexBuf [32]byte
	ipBuf  []byte
}

func accessLogKey(c *config.AccessLog) string {
	return "observe/access_log:" + c.Format + ":" + strconv.Itoa(c.Buffer) + ":" + c.Path
}

func newAccessLog(c *config.AccessLog) (*accessLog, error) {
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
	l.json = slog.New(slog.NewJSONHandler(l.out, &slog.HandlerOptions{ReplaceAttr: dropLevelAndMsg}))
	go l.run()
	return l, nil
}

// dropLevelAndMsg leaves only the access-log fields in a JSON line.
func dropLevelAndMsg(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && (a.Key == slog.LevelKey || a.Key == slog.MessageKey) {
		return slog.Attr{}
	}
	return a
}

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
			if len(l.queue) == 0 {
				_ = l.out.Flush()
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
	attrs := l.attrs[:0]
	var t time.Time
	for _, id := range e.fields.ids {
		switch id {
		case fTime:
			t = e.time
		case fRequestID:
			attrs = append(attrs, slog.String("request_id", e.requestID))
		case fTraceID:
			attrs = append(attrs, slog.String("trace_id", l.traceID(e)))
		case fClientIP:
			attrs = append(attrs, slog.String("client_ip", l.clientIP(e)))
		case fMethod:
			attrs = append(attrs, slog.String("method", e.method))
		case fHost:
			attrs = append(attrs, slog.String("host", e.host))
		case fPath:
			attrs = append(attrs, slog.String("path", e.path))
		case fProtocol:
			attrs = append(attrs, slog.String("protocol", e.protocol))
		case fRoute:
			attrs = append(attrs, slog.String("route", e.route))
		case fStatus:
			attrs = append(attrs, slog.Int("status", e.status))
		case fBytesIn:
			attrs = append(attrs, slog.Int64("bytes_in", e.bytesIn))
		case fBytesOut:
			attrs = append(attrs, slog.Int64("bytes_out", e.bytesOut))
		case fDuration:
			attrs = append(attrs, slog.Int64("duration_us", e.duration.Microseconds()))
		case fUpstreamDuration:
			attrs = append(attrs, slog.Int64("upstream_duration_us", e.upstreamD.Microseconds()))
		case fUpstream:
			attrs = append(attrs, slog.String("upstream", e.upstream))
		case fUpstreamTarget:
			attrs = append(attrs, slog.String("upstream_target", e.target))
		case fAttempts:
			attrs = append(attrs, slog.Int("attempts", e.attempts))
		case fConsumer:
			attrs = append(attrs, slog.String("consumer", e.consumer))
		case fRejectedBy:
			attrs = append(attrs, slog.String("rejected_by", e.rejectedBy))
		case fUserAgent:
			attrs = append(attrs, slog.String("user_agent", e.userAgent))
		case fError:
			attrs = append(attrs, slog.String("error", e.err))
		}
	}
	l.attrs = attrs
	r := slog.NewRecord(t, slog.LevelInfo, "", 0)
	// One inlined group (empty key) instead of many attrs: a record holds
	// five attrs inline and allocates for more.
	r.AddAttrs(slog.Attr{Value: slog.GroupValue(attrs...)})
	_ = l.json.Handler().Handle(context.Background(), r)
}

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
			kv("bytes_in", strconv.FormatInt(e.bytesIn, 10))
		case fDuration:
			kv("duration_us", strconv.FormatInt(e.duration.Microseconds(), 10))
		case fUpstreamDuration:
			kv("upstream_duration_us", strconv.FormatInt(e.upstreamD.Microseconds(), 10))
		case fUpstream:
			kv("upstream", e.upstream)
		case fUpstreamTarget:
			kv("upstream_target", e.target)
		case fAttempts:
			kv("attempts", strconv.Itoa(e.attempts))
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
