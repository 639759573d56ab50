package compress

import "strings"

// typeMatcher matches a Content-Type against the configured media types,
// compiled at load: exact types, whole top-level types ("text/*") and
// structured suffixes ("application/*+json").
type typeMatcher struct {
	exact    map[string]bool
	anyOf    []string // "text/"
	suffixes []string // "application/*+json" as "application/" + "+json", joined by a NUL
}

func newTypeMatcher(patterns []string) typeMatcher {
	m := typeMatcher{exact: map[string]bool{}}
	for _, p := range patterns {
		p = strings.ToLower(p)
		typ, sub, _ := strings.Cut(p, "/")
		switch {
		case sub == "*":
			m.anyOf = append(m.anyOf, typ+"/")
		case strings.HasPrefix(sub, "*+"):
			m.suffixes = append(m.suffixes, typ+"/\x00"+sub[1:])
		default:
			m.exact[p] = true
		}
	}
	return m
}

// match reports whether the media type of a Content-Type value (before any
// parameters) is one to compress. gRPC never is: it compresses per message
// and its clients do not expect a coded body.
func (m *typeMatcher) match(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.TrimSpace(mt)
	if hasPrefixFold(mt, "application/grpc") {
		return false
	}
	mt = strings.ToLower(mt)
	if m.exact[mt] {
		return true
	}
	for _, p := range m.anyOf {
		if strings.HasPrefix(mt, p) {
			return true
		}
	}
	for _, s := range m.suffixes {
		typ, suffix, _ := strings.Cut(s, "\x00")
		if strings.HasPrefix(mt, typ) && strings.HasSuffix(mt, suffix) {
			return true
		}
	}
	return false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
