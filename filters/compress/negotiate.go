package compress

import (
	"strings"
)

// coding is one content coding this filter produces.
type coding uint8

const (
	identity coding = iota
	gzipCoding
	brCoding
	zstdCoding
)

func (c coding) String() string {
	switch c {
	case gzipCoding:
		return "gzip"
	case brCoding:
		return "br"
	case zstdCoding:
		return "zstd"
	}
	return "identity"
}

func codingOf(name string) coding {
	switch name {
	case "gzip":
		return gzipCoding
	case "br":
		return brCoding
	case "zstd":
		return zstdCoding
	}
	return identity
}

// negotiate picks the coding for a response from the request's
// Accept-Encoding field lines (RFC 9110 §12.5.3), among prefs (the
// server's order). q-values are in thousandths.
//
//   - No Accept-Encoding: identity. The RFC lets a server pick any coding
//     then, but clients that send none rarely decode any.
//   - A coding named is acceptable with its q; one not named takes the q of
//     "*" if present, else is not acceptable; q=0 is "not acceptable".
//   - "x-gzip" is gzip (§8.4.1.3).
//   - The coding with the highest q wins; ties go to the earliest in prefs.
//   - identity competes only when weighed, by name or through "*": a
//     coding wins with a q at least identity's, so "gzip;q=0.5, identity"
//     stays identity. Unnamed, identity is acceptable but not preferred
//     ("br;q=0.5" is br). "identity;q=0" with no acceptable coding is
//     still answered with identity (the RFC's 406 helps no client).
func negotiate(fields []string, prefs []coding) coding {
	if len(fields) == 0 {
		return identity
	}
	var q [4]int // per coding; -1: not named
	for i := range q {
		q[i] = -1
	}
	star := -1
	for _, field := range fields {
		for len(field) > 0 {
			var elem string
			elem, field, _ = strings.Cut(field, ",")
			name, params, _ := strings.Cut(elem, ";")
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" {
				continue
			}
			v, ok := qvalue(params)
			if !ok {
				continue // a malformed weight: ignore the element, not the field
			}
			switch name {
			case "*":
				star = v
			case "identity":
				q[identity] = v
			case "gzip", "x-gzip":
				q[gzipCoding] = max(q[gzipCoding], v)
			case "br":
				q[brCoding] = v
			case "zstd":
				q[zstdCoding] = v
			}
		}
	}
	best, bestQ := identity, 0
	for _, c := range prefs {
		v := q[c]
		if v < 0 {
			v = max(star, 0)
		}
		if v > bestQ {
			best, bestQ = c, v
		}
	}
	if best == identity {
		return identity
	}
	idQ := q[identity]
	if idQ < 0 {
		idQ = star
	}
	if bestQ < idQ {
		return identity
	}
	return best
}

// qvalue reads the weight among an element's parameters ("q=0.5"), in
// thousandths: 1000 when there is none; ok is false when it is malformed
// (RFC 9110 §12.4.2: "0" to "1" with up to three decimals).
func qvalue(params string) (int, bool) {
	for len(params) > 0 {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, _ := strings.Cut(p, "=")
		if !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		return parseQ(strings.TrimSpace(v))
	}
	return 1000, true
}

func parseQ(s string) (int, bool) {
	if s == "" || len(s) > 5 {
		return 0, false
	}
	switch s[0] {
	case '0', '1':
	default:
		return 0, false
	}
	n := int(s[0]-'0') * 1000
	if len(s) == 1 {
		return n, true
	}
	if s[1] != '.' {
		return 0, false
	}
	scale := 100
	for i := 2; i < len(s); i++ {
		d := s[i]
		if d < '0' || d > '9' {
			return 0, false
		}
		n += int(d-'0') * scale
		scale /= 10
	}
	if n > 1000 {
		return 0, false
	}
	return n, true
}
