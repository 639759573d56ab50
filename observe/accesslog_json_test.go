package observe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"log/slog"
	"net/netip"
	"testing"
	"time"
)

// slogLine is the access-log line as log/slog's JSONHandler writes it: the
// format appendJSON must keep, byte for byte.
func slogLine(e *entry) []byte {
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && (a.Key == slog.LevelKey || a.Key == slog.MessageKey) {
			return slog.Attr{}
		}
		return a
	}})
	var attrs []slog.Attr
	var t time.Time
	str := func(k, v string) { attrs = append(attrs, slog.String(k, v)) }
	for _, id := range e.fields.ids {
		switch fields[id].name {
		case "time":
			t = e.time
		case "request_id":
			str("request_id", e.requestID)
		case "trace_id":
			if e.hasTrace {
				str("trace_id", hex.EncodeToString(e.traceID[:]))
			} else {
				str("trace_id", "")
			}
		case "client_ip":
			if e.clientIP.IsValid() {
				str("client_ip", e.clientIP.String())
			} else {
				str("client_ip", "")
			}
		case "method":
			str("method", e.method)
		case "host":
			str("host", e.host)
		case "path":
			str("path", e.path)
		case "protocol":
			str("protocol", e.protocol)
		case "route":
			str("route", e.route)
		case "status":
			attrs = append(attrs, slog.Int("status", e.status))
		case "bytes_in":
			attrs = append(attrs, slog.Int64("bytes_in", e.bytesIn))
		case "bytes_out":
			attrs = append(attrs, slog.Int64("bytes_out", e.bytesOut))
		case "duration_us":
			attrs = append(attrs, slog.Int64("duration_us", e.duration.Microseconds()))
		case "upstream_duration_us":
			attrs = append(attrs, slog.Int64("upstream_duration_us", e.upstreamD.Microseconds()))
		case "upstream":
			str("upstream", e.upstream)
		case "upstream_target":
			str("upstream_target", e.target)
		case "attempts":
			attrs = append(attrs, slog.Int("attempts", e.attempts))
		case "consumer":
			str("consumer", e.consumer)
		case "rejected_by":
			str("rejected_by", e.rejectedBy)
		case "answered_by":
			str("answered_by", e.answeredBy)
		case "grpc_status":
			str("grpc_status", e.grpcStatus)
		case "user_agent":
			str("user_agent", e.userAgent)
		case "error":
			str("error", e.err)
		}
	}
	r := slog.NewRecord(t, slog.LevelInfo, "", 0)
	r.AddAttrs(slog.Attr{Value: slog.GroupValue(attrs...)})
	_ = h.Handle(context.Background(), r)
	return buf.Bytes()
}

func TestAppendJSONMatchesSlog(t *testing.T) {
	all := compileFields(AccessLogFields)
	some := compileFields([]string{"status", "path", "time", "user_agent"})
	noTime := compileFields([]string{"route", "error"})
	base := entry{
		time: time.Date(2026, 3, 4, 5, 6, 7, 891234000, time.FixedZone("x", 3600)), duration: 1234567 * time.Nanosecond,
		upstreamD: 999 * time.Microsecond, traceID: [16]byte{1, 2, 3, 0xff}, hasTrace: true,
		clientIP: netip.MustParseAddr("2001:db8::1"), requestID: "abc", method: "GET", host: "example.com",
		path: "/a/b", protocol: "HTTP/1.1", route: "r", upstream: "u", target: "127.0.0.1:80",
		consumer: "c", rejectedBy: "deny", answeredBy: "deny", status: 200, attempts: 2, bytesIn: 10, bytesOut: -1,
	}
	odd := []string{
		"", `q"uote\back`, "tab\tnl\nrt\r", "ctl\x00\x01\x1f\x7f", "<html>&amp;", "héllo wörld ☃",
		"bad\xffutf8\xc3", "ls\u2028ps\u2029", "emoji 😀 end", `mixed "é"` + "\x02\xe2\x80",
	}
	for _, fs := range []*fieldSet{all, some, noTime} {
		for _, s := range odd {
			e := base
			e.fields = fs
			e.path, e.userAgent, e.err, e.route, e.requestID = s, s, s, s, s
			got, want := appendJSON(nil, &e), slogLine(&e)
			if !bytes.Equal(got, want) {
				t.Errorf("fields %v, string %q:\n got %s\nwant %s", fs.ids, s, got, want)
			}
		}
	}
	e := base
	e.fields, e.hasTrace, e.clientIP, e.time = all, false, netip.Addr{}, time.Now()
	if got, want := appendJSON(nil, &e), slogLine(&e); !bytes.Equal(got, want) {
		t.Errorf("no trace, no client IP:\n got %s\nwant %s", got, want)
	}
	e.clientIP = netip.MustParseAddr("10.1.2.3")
	if got, want := appendJSON(nil, &e), slogLine(&e); !bytes.Equal(got, want) {
		t.Errorf("IPv4:\n got %s\nwant %s", got, want)
	}
	if n := testing.AllocsPerRun(100, func() { _ = appendJSON(make([]byte, 0, 1024), &e) }); n > 1 {
		t.Errorf("appendJSON: %v allocs", n)
	}
}

// The text format with every field: the common-log prefix, then the other
// fields as key=value in the order chosen, "-" for an empty value and free
// text quoted.
func TestTextLineAllFields(t *testing.T) {
	var out bytes.Buffer
	l := &accessLog{out: bufio.NewWriter(&out), text: true}
	e := entry{
		fields: compileFields(AccessLogFields),
		time:   time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("x", 3600)), duration: 1234567 * time.Nanosecond,
		upstreamD: 999 * time.Microsecond, traceID: [16]byte{1, 2, 3, 0xff}, hasTrace: true,
		clientIP: netip.MustParseAddr("2001:db8::1"), requestID: "abc", method: "GET", host: "example.com",
		path: "/a b", protocol: "HTTP/1.1", route: "r", upstream: "u", target: "127.0.0.1:80",
		consumer: "c", status: 200, attempts: 2, bytesIn: 10, bytesOut: 5, userAgent: `curl "x"`,
	}
	l.writeText(&e)
	e.clientIP, e.hasTrace, e.consumer, e.route, e.fields = netip.Addr{}, false, "", "", compileFields([]string{"error", "trace_id", "route"})
	l.writeText(&e)
	_ = l.out.Flush()
	want := `2001:db8::1 - c [04/Mar/2026:05:06:07 +0100] "GET /a b HTTP/1.1" 200 5 request_id=abc trace_id=010203ff000000000000000000000000 host=example.com route=r bytes_in=10 duration_us=1234 upstream_duration_us=999 upstream=u upstream_target=127.0.0.1:80 attempts=2 rejected_by=- answered_by=- grpc_status=- user_agent="curl \"x\"" error=""` + "\n" +
		`- - - [04/Mar/2026:05:06:07 +0100] "GET /a b HTTP/1.1" 200 5 error="" trace_id=- route=-` + "\n"
	if got := out.String(); got != want {
		t.Errorf("text lines:\n%s\nwant:\n%s", got, want)
	}
}
