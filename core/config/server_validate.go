package config

import (
	"net/textproto"
)

// framingHeaders may not be hidden: they frame the response (removing
// Content-Length from a response would change how its end is found) or are
// the gateway's own business (hop-by-hop fields are always removed).
var framingHeaders = map[string]bool{
	"Content-Length": true, "Transfer-Encoding": true, "Connection": true, "Trailer": true,
	"Content-Type": true, "Upgrade": true,
}

// controlByte is the index of the first byte a header field value may not
// hold (RFC 9110 §5.5: controls other than HTAB, and DEL), or -1.
func controlByte(s string) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return i
		}
	}
	return -1
}

// responseHygiene checks server.server_header and server.hide_response_headers.
func (v *Validator) responseHygiene() {
	s := v.c.Server
	if i := controlByte(s.ServerHeader); i >= 0 {
		v.Errorf("server.server_header", "holds a control character (byte %d); use printable text, e.g. \"wasmgate\"", i)
	}
	seen := map[string]int{}
	for i, name := range s.HideResponseHeaders {
		field := JoinIndex("server.hide_response_headers", i)
		if !IsToken(name) {
			v.Errorf(field, "%q is not a header name; use letters, digits and -, e.g. X-Powered-By", name)
			continue
		}
		key := textproto.CanonicalMIMEHeaderKey(name)
		if framingHeaders[key] {
			v.Errorf(field, "%s frames the response or is managed by the gateway and cannot be hidden", key)
		}
		if key == "Server" && s.ServerHeader != "" {
			v.Errorf(field, "Server is already replaced by server.server_header; remove one of the two")
		}
		if j, dup := seen[key]; dup {
			v.Errorf(field, "%s is already listed at hide_response_headers[%d]", key, j)
		}
		seen[key] = i
	}
}

// overload checks server.overload: the hard threshold sheds more than the
// soft one, so it must come later.
func (v *Validator) overload() {
	o := v.c.Server.Overload
	if o.HeapSoft > 0 && o.HeapHard > 0 && o.HeapHard <= o.HeapSoft {
		v.Errorf("server.overload.heap_hard", "%d bytes is not above heap_soft (%d bytes); refusing requests must start after refusing connections, e.g. heap_soft: 1GiB, heap_hard: 1536MiB", int64(o.HeapHard), int64(o.HeapSoft))
	}
}

// connectionLimits checks a listener's connection caps and accept rate.
func (v *Validator) connectionLimits(p string, l Listener) {
	for _, f := range [...]struct {
		name string
		n    int
	}{{".max_connections", l.MaxConnections}, {".max_connections_per_ip", l.MaxConnectionsPerIP}, {".accept_rate.per_second", l.AcceptRate.PerSecond}} {
		if f.n < 0 {
			v.Errorf(p+f.name, "%d is negative; use a positive number, or 0 for no limit", f.n)
		}
	}
	if l.MaxConnections > 0 && l.MaxConnectionsPerIP > l.MaxConnections {
		v.Errorf(p+".max_connections_per_ip", "%d is above max_connections (%d), so it never applies; use at most %d", l.MaxConnectionsPerIP, l.MaxConnections, l.MaxConnections)
	}
	switch r := l.AcceptRate; {
	case r.Burst < 0:
		v.Errorf(p+".accept_rate.burst", "%d is negative; use at least 1 (it defaults to per_second)", r.Burst)
	case r.Burst > 0 && r.PerSecond == 0:
		v.Errorf(p+".accept_rate.burst", "is set without per_second; set per_second too, e.g. accept_rate: {per_second: 100, burst: 200}")
	}
}
