package router

import "fmt"

// PathError says why a request path was refused. The gateway answers it with
// 400 and Reason; it is never a server fault.
type PathError struct {
	Path   string // the path as received
	Reason string // short and fixed, e.g. "encoded slash in path"
}

func (e *PathError) Error() string {
	return fmt.Sprintf("bad request path %q: %s", e.Path, e.Reason)
}

// Canonicalize returns the one spelling of rawPath that routing, filters and
// the upstream all see, so that no two spellings of a path can be treated
// differently (a rule on /admin must also catch /public/%2e%2e/admin).
//
// rawPath is the escaped path as received (URL.EscapedPath or the path part
// of RequestURI). Canonicalize:
//   - decodes percent-escaped unreserved characters (ALPHA DIGIT - . _ ~)
//     exactly once and writes every other escape with uppercase hex;
//   - refuses what would mean something else to a backend than to us:
//     encoded "/" or "\" or NUL, a raw "\" or control character, an invalid
//     escape, and a "." or ".." segment spelled with an encoded dot;
//   - removes dot segments (RFC 3986 §5.2.4; ".." at the root stays at the
//     root) and, with mergeSlashes, folds runs of "/" into one;
//   - keeps a trailing slash: /a/ and /a stay different paths.
//
// Other raw bytes (say, non-ASCII) pass through unchanged. A path that needs
// no change is returned as is, without allocating.
func Canonicalize(rawPath string, mergeSlashes bool) (string, error) {
	if rawPath == "" || rawPath[0] != '/' {
		return "", &PathError{rawPath, "path must start with /"}
	}
	if isCanonical(rawPath, mergeSlashes) {
		return rawPath, nil
	}
	return canonicalize(rawPath, mergeSlashes)
}

// isCanonical is the fast path: no escapes, no backslash or control
// characters, no dot segments and, when merging, no empty inner segments.
// Dots inside names (/file.json) do not leave it.
func isCanonical(p string, mergeSlashes bool) bool {
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '%' || c == '\\' || c < 0x20 || c == 0x7f:
			return false
		case c == '/' && i+1 < len(p):
			switch p[i+1] {
			case '/':
				if mergeSlashes {
					return false
				}
			case '.':
				if isDotSegment(p[i+1:]) {
					return false
				}
			}
		}
	}
	return true
}

// isDotSegment reports whether s (the text after a "/") starts with a "." or
// ".." segment.
func isDotSegment(s string) bool {
	n := 1
	if len(s) > 1 && s[1] == '.' {
		n = 2
	}
	return len(s) == n || s[n] == '/'
}

// canonicalize is the slow path: one pass, segment by segment, into a fresh
// buffer. Dot segments are resolved as they complete, by cutting the buffer
// back to the previous "/", so the buffer never holds one.
func canonicalize(raw string, mergeSlashes bool) (string, error) {
	buf := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		// raw[i] is the "/" that starts a segment.
		end := i + 1
		for end < len(raw) && raw[end] != '/' {
			end++
		}
		last := end == len(raw)
		start := len(buf)
		buf = append(buf, '/')
		var encodedDot bool
		var err error
		buf, encodedDot, err = appendSegment(buf, raw, raw[i+1:end])
		if err != nil {
			return "", err
		}
		switch seg := buf[start+1:]; {
		case string(seg) == "." || string(seg) == "..":
			if encodedDot {
				return "", &PathError{raw, "encoded dot segment in path"}
			}
			buf = buf[:start]
			if len(seg) == 2 {
				buf = buf[:lastSlash(buf)]
			}
			if last {
				buf = append(buf, '/')
			}
		case len(seg) == 0 && mergeSlashes && !last:
			buf = buf[:start]
		}
		i = end
	}
	if len(buf) == 0 {
		return "/", nil
	}
	return string(buf), nil
}

// lastSlash is the index of the last "/" in b, or 0 if there is none: the
// cut point that drops b's last segment, clamped at the root.
func lastSlash(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '/' {
			return i
		}
	}
	return 0
}

// appendSegment appends one raw segment (no "/" in it) to buf, decoding
// unreserved escapes and normalizing the others. encodedDot reports a decoded
// "." so that the caller can refuse "%2e%2e" as a segment.
func appendSegment(buf []byte, raw, seg string) (_ []byte, encodedDot bool, err error) {
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		switch {
		case c == '\\':
			return nil, false, &PathError{raw, "backslash in path"}
		case c < 0x20 || c == 0x7f:
			return nil, false, &PathError{raw, "control character in path"}
		case c != '%':
			buf = append(buf, c)
			continue
		}
		if i+2 >= len(seg) || !isHex(seg[i+1]) || !isHex(seg[i+2]) {
			return nil, false, &PathError{raw, "invalid percent-escape in path"}
		}
		d := unhex(seg[i+1])<<4 | unhex(seg[i+2])
		i += 2
		switch {
		case d == '/':
			return nil, false, &PathError{raw, "encoded slash in path"}
		case d == '\\':
			return nil, false, &PathError{raw, "encoded backslash in path"}
		case d == 0:
			return nil, false, &PathError{raw, "encoded NUL in path"}
		case isUnreserved(d):
			encodedDot = encodedDot || d == '.'
			buf = append(buf, d)
		default:
			const hexDigits = "0123456789ABCDEF"
			buf = append(buf, '%', hexDigits[d>>4], hexDigits[d&15])
		}
	}
	return buf, encodedDot, nil
}

// isUnreserved is RFC 3986 §2.3: the characters an escape never changes the
// meaning of, so decoding them gives every spelling one form.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}
