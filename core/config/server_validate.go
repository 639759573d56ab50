package config

import (
	"net/textproto"
	"strings"
)

// framingHeaders may not be hidden: they frame the response (removing
// Content-Length from a response would change how its end is found) or are
// the gateway's own business (hop-by-hop fields are always removed).
var framingHeaders = map[string]bool{
	"Content-Length": true, "Transfer-Encoding": true, "Connection": true, "Trailer": true,
	"Content-Type": true, "Upgrade": true,
}

// responseHygiene checks server.server_header and server.hide_response_headers.
func (v *validator) responseHygiene() {
	s := v.c.Server
	for i := 0; i < len(s.ServerHeader); i++ {
		if c := s.ServerHeader[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			v.errf("server.server_header", "holds a control character (byte %d); use printable text, e.g. \"wasmgate\"", i)
			break
		}
	}
	seen := map[string]int{}
	for i, name := range s.HideResponseHeaders {
		field := joinIndex("server.hide_response_headers", i)
		if !isToken(name) {
			v.errf(field, "%q is not a header name; use letters, digits and -, e.g. X-Powered-By", name)
			continue
		}
		key := textproto.CanonicalMIMEHeaderKey(name)
		if framingHeaders[key] {
			v.errf(field, "%s frames the response or is managed by the gateway and cannot be hidden", key)
		}
		if key == "Server" && s.ServerHeader != "" {
			v.errf(field, "Server is already replaced by server.server_header; remove one of the two")
		}
		if j, dup := seen[key]; dup {
			v.errf(field, "%s is already listed at hide_response_headers[%d]", key, j)
		}
		seen[key] = i
	}
}

// isToken reports whether s is an RFC 9110 token (a valid field name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}
