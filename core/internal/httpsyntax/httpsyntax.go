// Package httpsyntax holds the few lexical rules of HTTP (RFC 9110 §5.6,
// RFC 9112) that the request framing guard (core/server), the upstream
// HTTP/1.1 engine (core/upstream/internal/h1) and config validation
// (core/config) all apply, so that they apply the same ones.
package httpsyntax

// TokenByte reports whether b is a tchar (RFC 9110 §5.6.2).
func TokenByte(b byte) bool { return b < 0x80 && tchar[b] }

var tchar = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// IsToken reports whether s is a token: 1*tchar, the syntax of methods
// and field names.
func IsToken[T string | []byte](s T) bool {
	for i := range len(s) {
		if !TokenByte(s[i]) {
			return false
		}
	}
	return len(s) > 0
}

// TrimOWS removes optional whitespace (SP and HTAB) around s.
func TrimOWS[T string | []byte](s T) T {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// ParseDecimal parses 1*DIGIT of up to 18 digits: what fits an int64 and
// what net/http accepts for a Content-Length.
func ParseDecimal[T string | []byte](b T) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for i := range len(b) {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
