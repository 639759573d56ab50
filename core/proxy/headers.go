package proxy

import (
	"net/http"
	"net/netip"
	"net/textproto"
	"strings"
)

// hopHeaders are the fields that describe one connection rather than the
// message, and so never cross a proxy (RFC 9110 §7.6.1; Proxy-Connection and
// Keep-Alive are pre-standard but still sent, RFC 9112 §9.6 and §C.2.2; TE and
// Trailer per RFC 9110 §10.1.4 and §6.6.2; Transfer-Encoding is framing of one
// hop, RFC 9112 §6.1; Upgrade is re-added only for an allowed websocket).
// Keys are canonical so deleting them never allocates.
var hopHeaders = [...]string{
	"Connection",
	"Proxy-Connection",
	"Keep-Alive",
	"Proxy-Authenticate",
	"Proxy-Authorization",
	"Te",
	"Trailer",
	"Transfer-Encoding",
	"Upgrade",
}

// StripHopByHop removes the hop-by-hop fields of a request as the client
// sent it (RFC 9110 §7.6.1): the fixed set above and every field its
// Connection header names. The gateway calls it once, before routing and
// before any filter: the client's Connection header describes the client's
// own connection, so the names in it may only remove what the client sent,
// never a field the gateway or a filter sets afterwards (X-Consumer-*,
// X-Forwarded-For, X-Request-Id, a headers filter's). What RoundTrip needs
// of those fields is left in one normal form: "Connection: Upgrade" with the
// first Upgrade value when the client asked to switch protocols (forwarded
// only for an allowed websocket), and "Te: trailers" when the client accepts
// trailers (gRPC).
func StripHopByHop(h http.Header) {
	if len(h["Connection"]) == 0 && len(h["Te"]) == 0 && len(h["Upgrade"]) == 0 {
		deleteHopFields(h) // the common case: nothing to parse, nothing kept
		return
	}
	upgrade := upgradeToken(h)
	connection := h["Connection"]
	te := h["Te"]
	removeHopByHop(h)
	if upgrade != "" {
		if len(connection) != 1 || !equalFold(connection[0], "upgrade") {
			connection = []string{"Upgrade"}
		}
		h["Connection"] = connection
		h["Upgrade"] = []string{upgrade}
	}
	if hasToken(te, "trailers") {
		if len(te) != 1 || te[0] != "trailers" {
			te = []string{"trailers"}
		}
		h["Te"] = te
	}
}

// removeHopByHop deletes the hop-by-hop fields of RFC 9110 §7.6.1 from h: the
// fixed set above and every field the Connection header names. It runs on a
// message as it is received (a client's request, an upstream's final or 1xx
// response), before anyone adds fields to it. The caller re-adds what it
// keeps on purpose (TE: trailers, an allowed websocket Upgrade).
func removeHopByHop(h http.Header) {
	for _, v := range h["Connection"] {
		for v != "" {
			var name string
			name, v, _ = strings.Cut(v, ",")
			name = textproto.TrimString(name)
			switch {
			case name == "":
			// "close" names no field; the others are in hopHeaders. Skipping
			// them saves Del's canonicalization, which allocates for
			// lower-case input such as the common "keep-alive".
			case equalFold(name, "close"), equalFold(name, "keep-alive"),
				equalFold(name, "upgrade"), equalFold(name, "te"):
			default:
				h.Del(name)
			}
		}
	}
	deleteHopFields(h)
}

// deleteHopFields deletes the fixed set of hop-by-hop fields, not those a
// Connection header names.
func deleteHopFields(h http.Header) {
	for _, k := range hopHeaders {
		delete(h, k)
	}
}

// hasToken reports whether the comma-separated list in values contains token,
// compared case-insensitively, without allocating.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if equalFold(textproto.TrimString(t), token) {
				return true
			}
		}
	}
	return false
}

// equalFold is ASCII-only case-insensitive equality (header tokens are ASCII).
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}

// hasPrefixFold is strings.HasPrefix with ASCII case folding.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && equalFold(s[:len(prefix)], prefix)
}

// upgradeToken returns the protocol a request or response asks to switch to:
// the Upgrade value when Connection names "upgrade", else "".
func upgradeToken(h http.Header) string {
	if !hasToken(h["Connection"], "upgrade") {
		return ""
	}
	return textproto.TrimString(h.Get("Upgrade"))
}

// Forwarding headers a client could use to lie about where a request came
// from. From an untrusted peer they are all dropped before ours are set.
var spoofable = [...]string{
	"Forwarded",
	"X-Forwarded-For",
	"X-Forwarded-Proto",
	"X-Forwarded-Host",
	"X-Forwarded-Port",
	"X-Forwarded-Prefix",
	"X-Real-Ip",
}

// setForwarding writes X-Forwarded-For/-Proto/-Host, X-Real-IP and the RFC
// 7239 Forwarded header. The hop we record is the TCP peer (for a trusted
// proxy that is the proxy, appended to what it reported); X-Real-IP is the
// client as the gateway resolved it (x.ClientIP). Values are carved from the
// trip's backing array so the whole set costs at most two allocations.
func (t *trip) setForwarding(h http.Header, in *http.Request, client netip.Addr, trusted bool) {
	peer, peerAddr := splitPeer(in.RemoteAddr)
	if !peerAddr.IsValid() && client.IsValid() {
		peerAddr = client
		peer = client.String()
	}
	proto := "http"
	if in.TLS != nil {
		proto = "https"
	}

	if !trusted {
		for _, k := range spoofable {
			delete(h, k)
		}
	}

	// X-Forwarded-For: the chain of client addresses, ours appended last.
	if peer != "" {
		xff := peer
		if prior := h["X-Forwarded-For"]; trusted && len(prior) > 0 {
			xff = joinList(prior, peer)
		}
		h["X-Forwarded-For"] = t.val(xff)
	}

	// Forwarded (RFC 7239 §4): one element per hop; ours appended last.
	h["Forwarded"] = t.val(forwardedElement(h["Forwarded"], peer, peerAddr, in.Host, proto))

	// Proto and Host describe the original request: a trusted proxy's report
	// stands, otherwise they describe the request we received.
	if len(h["X-Forwarded-Proto"]) == 0 {
		h["X-Forwarded-Proto"] = t.val(proto)
	}
	if len(h["X-Forwarded-Host"]) == 0 && in.Host != "" {
		h["X-Forwarded-Host"] = t.val(in.Host)
	}

	switch {
	case client.IsValid() && client == peerAddr:
		h["X-Real-Ip"] = t.val(peer)
	case client.IsValid():
		h["X-Real-Ip"] = t.val(client.String())
	case peer != "":
		h["X-Real-Ip"] = t.val(peer)
	}
}

// splitPeer returns the address part of a RemoteAddr ("192.0.2.1:5678",
// "[2001:db8::1]:5678") as a substring, so that it costs no allocation, and
// its parsed form. A RemoteAddr that does not parse yields ("", invalid).
func splitPeer(remote string) (string, netip.Addr) {
	var host string
	var a netip.Addr
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		host, a = remote[:strings.LastIndexByte(remote, ':')], ap.Addr()
		if host[0] == '[' {
			host = host[1 : len(host)-1]
		}
	} else if a, err = netip.ParseAddr(remote); err == nil {
		host = remote
	} else {
		return "", netip.Addr{}
	}
	if a.Is4In6() {
		a = a.Unmap()
		host = a.String()
	}
	return host, a
}

// joinList appends v to a header's comma-separated values in one allocation.
func joinList(prior []string, v string) string {
	n := len(v)
	for _, p := range prior {
		n += len(p) + 2
	}
	var b strings.Builder
	b.Grow(n)
	for _, p := range prior {
		b.WriteString(p)
		b.WriteString(", ")
	}
	b.WriteString(v)
	return b.String()
}

// forwardedElement builds `for=…;host=…;proto=…`, appended to prior (kept
// only for trusted peers; the caller has deleted it otherwise). An IPv6 node
// is bracketed and quoted (RFC 7239 §6); an unknown peer is "unknown"; the
// host is quoted when it is not a token (a port's ':' is not a tchar).
func forwardedElement(prior []string, peer string, peerAddr netip.Addr, host, proto string) string {
	var b strings.Builder
	n := len(peer) + len(host) + len(proto) + 32
	for _, p := range prior {
		n += len(p) + 2
	}
	b.Grow(n)
	for _, p := range prior {
		b.WriteString(p)
		b.WriteString(", ")
	}
	b.WriteString("for=")
	switch {
	case peer == "":
		b.WriteString("unknown")
	case peerAddr.Is6():
		b.WriteString(`"[`)
		b.WriteString(peer)
		b.WriteString(`]"`)
	default:
		b.WriteString(peer)
	}
	if host != "" {
		b.WriteString(";host=")
		writeTokenOrQuoted(&b, host)
	}
	b.WriteString(";proto=")
	b.WriteString(proto)
	return b.String()
}

// writeTokenOrQuoted writes v as an RFC 9110 token if it is one, else as a
// quoted-string with '"' and '\' escaped.
func writeTokenOrQuoted(b *strings.Builder, v string) {
	token := v != ""
	for i := 0; i < len(v) && token; i++ {
		token = isTchar(v[i])
	}
	if token {
		b.WriteString(v)
		return
	}
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		if v[i] == '"' || v[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('"')
}

// isTchar reports whether c may appear in an RFC 9110 §5.6.2 token.
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
