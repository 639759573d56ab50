package identity

import (
	"net/http"
	"strings"

	"github.com/wasmgate/wasmgate/core/filter"
)

// The error codes of RFC 6750 §3.1, used in Bearer challenges.
const (
	InvalidRequest    = "invalid_request"    // 400: malformed, or credentials given more than one way
	InvalidToken      = "invalid_token"      // 401: expired, malformed, badly signed, ...
	InsufficientScope = "insufficient_scope" // 403: valid, but not enough
)

// Unauthorized is a 401 with the challenge in WWW-Authenticate (RFC 9110
// §11.6.1) and the reason in the JSON body.
func Unauthorized(challenge, reason string) *filter.Response {
	r := filter.Error(http.StatusUnauthorized, reason)
	if challenge != "" {
		r.Header["Www-Authenticate"] = []string{challenge}
	}
	return r
}

// Forbidden is a 403: the credentials are valid but not allowed here.
// challenge may be "" (a 403 needs none).
func Forbidden(challenge, reason string) *filter.Response {
	r := filter.Error(http.StatusForbidden, reason)
	if challenge != "" {
		r.Header["Www-Authenticate"] = []string{challenge}
	}
	return r
}

// BadRequest is a 400 for a malformed credential (RFC 6750 invalid_request).
func BadRequest(challenge, reason string) *filter.Response {
	r := filter.Error(http.StatusBadRequest, reason)
	if challenge != "" {
		r.Header["Www-Authenticate"] = []string{challenge}
	}
	return r
}

// Challenge formats `Scheme realm="realm", k="v", ...` (RFC 9110 §11.3),
// quoting each value and escaping '"' and '\'. Pairs with an empty value
// are left out.
func Challenge(scheme, realm string, kv ...string) string {
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString(` realm="`)
	writeQuoted(&b, realm)
	b.WriteByte('"')
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			continue
		}
		b.WriteString(", ")
		b.WriteString(kv[i])
		b.WriteString(`="`)
		writeQuoted(&b, kv[i+1])
		b.WriteByte('"')
	}
	return b.String()
}

func writeQuoted(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c == 0x7f:
			// Control characters cannot appear in a header value at all.
		default:
			b.WriteByte(c)
		}
	}
}
