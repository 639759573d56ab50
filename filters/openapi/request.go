package openapi

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// what selects the parts of a request that are validated.
type what struct {
	path, query, headers, cookies, body bool
}

// checkParams validates op's parameters of the kinds w selects.
func checkParams(op *operation, r *http.Request, cap *captures, w what, ps *problems) {
	for _, p := range op.params {
		switch p.in {
		case "path":
			if w.path && p.pathIdx < cap.n {
				checkParam(p, cap.vals[p.pathIdx:p.pathIdx+1], ps)
			}
		case "query":
			if w.query {
				checkQuery(p, r.URL.RawQuery, ps)
			}
		case "header":
			if w.headers {
				vals := r.Header[p.key]
				if len(vals) == 0 {
					if p.required {
						ps.add(p.loc, "required header is missing")
					}
					continue
				}
				checkParam(p, vals, ps)
			}
		case "cookie":
			if w.cookies {
				cs := r.CookiesNamed(p.name)
				if len(cs) == 0 {
					if p.required {
						ps.add(p.loc, "required cookie is missing")
					}
					continue
				}
				vals := make([]string, len(cs))
				for i, c := range cs {
					vals[i] = c.Value
				}
				checkParam(p, vals, ps)
			}
		}
	}
}

// checkQuery finds p's values in the raw query without parsing all of it
// into a map, and checks them.
func checkQuery(p *param, raw string, ps *problems) {
	var buf [4]string
	vals := buf[:0]
	for raw != "" {
		var pair string
		if i := strings.IndexByte(raw, '&'); i >= 0 {
			pair, raw = raw[:i], raw[i+1:]
		} else {
			pair, raw = raw, ""
		}
		k, v, _ := strings.Cut(pair, "=")
		if k != p.name {
			if strings.IndexByte(k, '%') < 0 && strings.IndexByte(k, '+') < 0 {
				continue
			}
			if uk, err := url.QueryUnescape(k); err != nil || uk != p.name {
				continue
			}
		}
		if p.array && !p.explode {
			// A comma separates items; an encoded one (%2C) is data.
			for _, part := range strings.Split(v, ",") {
				part, ok := queryUnescape(part)
				if !ok {
					ps.add(p.loc, "not a valid percent-encoded value")
					return
				}
				vals = append(vals, part)
			}
			continue
		}
		v, ok := queryUnescape(v)
		if !ok {
			ps.add(p.loc, "not a valid percent-encoded value")
			return
		}
		vals = append(vals, v)
	}
	if len(vals) == 0 {
		if p.required {
			ps.add(p.loc, "required query parameter is missing")
		}
		return
	}
	checkParam(p, vals, ps)
}

// trimOWS trims the optional whitespace (spaces and tabs) around a header
// value or a list item in one.
func trimOWS(s string) string {
	return strings.Trim(s, " \t")
}

func queryUnescape(v string) (string, bool) {
	if strings.IndexByte(v, '%') < 0 && strings.IndexByte(v, '+') < 0 {
		return v, true
	}
	uv, err := url.QueryUnescape(v)
	return uv, err == nil
}

// checkParam checks a parameter's string values against its schema by
// writing them as the JSON value they stand for (an integer parameter's
// "10" is the number 10, a list's values a JSON array) in a pooled buffer
// and running the body validator over it: one code path for every keyword.
func checkParam(p *param, vals []string, ps *problems) {
	loc := p.loc
	if p.schema == nil || p.object {
		return
	}
	c := checkers.Get().(*checker)
	buf := c.scratch[:0]
	if p.array {
		items := resolveTop(p.schema).items
		buf = append(buf, '[')
		n := 0
		for _, v := range vals {
			parts := []string{v}
			// Query values come split already (checkQuery).
			if p.in != "query" && (!p.explode || p.in != "cookie") {
				parts = strings.Split(v, ",")
			}
			for _, part := range parts {
				if p.in == "header" {
					part = trimOWS(part) // "1, 2": RFC 9110's list syntax
				}
				if n > 0 {
					buf = append(buf, ',')
				}
				if !utf8.ValidString(part) {
					ps.add(loc, "not valid UTF-8")
					c.release()
					return
				}
				buf = appendScalar(buf, items, part)
				n++
			}
		}
		buf = append(buf, ']')
	} else {
		if len(vals) > 1 {
			// The upstream may read any one of them.
			ps.add(loc, "given more than once; the API takes one value")
		}
		v := vals[0] // vals may be the request's own header slice
		if p.in == "header" {
			v = trimOWS(v)
		}
		if !utf8.ValidString(v) {
			ps.add(loc, "not valid UTF-8")
			c.release()
			return
		}
		buf = appendScalar(buf, p.schema, v)
	}
	c.scratch = buf
	c.start(buf, loc, true, ps)
	c.value(p.schema, 0)
	switch {
	case c.reason != "":
		ps.add(loc, c.reason)
	case c.syntax:
		ps.add(loc, "not valid UTF-8")
	}
	c.release()
}

// appendScalar writes v as the JSON scalar the schema s wants: a number
// or boolean when s allows one and v spells it, else a string.
func appendScalar(buf []byte, s *schema, v string) []byte {
	t := jsonType(0)
	if s != nil {
		t = resolveTop(s).types
	}
	if t&(tNumber|tInteger) != 0 && isJSONNumber(v) {
		return append(buf, v...)
	}
	if t&tBool != 0 && (v == "true" || v == "false") {
		return append(buf, v...)
	}
	if t&tNull != 0 && v == "null" && t&tString == 0 {
		return append(buf, v...)
	}
	return appendJSONString(buf, v)
}

func isJSONNumber(v string) bool {
	end, _, ok := scanNumber([]byte(v), 0)
	return ok && end == len(v)
}

const hexDigits = "0123456789abcdef"

func appendJSONString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	for i := 0; i < len(s); {
		b := s[i]
		if b >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				buf = append(buf, `\ufffd`...)
			} else {
				buf = append(buf, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch {
		case b == '"' || b == '\\':
			buf = append(buf, '\\', b)
		case b < 0x20:
			buf = append(buf, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
		default:
			buf = append(buf, b)
		}
		i++
	}
	return append(buf, '"')
}

// mediaType returns the type/subtype of a Content-Type, lower case,
// without its parameters.
func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	for i := 0; i < len(ct); i++ {
		if 'A' <= ct[i] && ct[i] <= 'Z' {
			return strings.ToLower(ct)
		}
	}
	return ct
}

// validMediaType reports whether mt is type/subtype, each a token
// (RFC 9110 §8.3.1).
func validMediaType(mt string) bool {
	t, sub, ok := strings.Cut(mt, "/")
	return ok && isToken(t) && isToken(sub)
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// pick finds the documented media type for mt: exact, then type/*, then */*.
func pick(content []media, mt string) *media {
	for i := range content {
		m := &content[i]
		switch {
		case m.typ == mt, m.typ == "*/*":
			return m
		case strings.HasSuffix(m.typ, "/*") && strings.HasPrefix(mt, m.typ[:len(m.typ)-1]):
			return m
		}
	}
	return nil
}

// acceptable reports whether an explicit Accept header admits one of the
// media types op's responses document. It is lenient: no Accept, an
// operation that documents no content, or any wildcard passes.
func acceptable(op *operation, accept string) bool {
	if accept == "" || len(op.produces) == 0 {
		return true
	}
	for accept != "" {
		var rng string
		if i := strings.IndexByte(accept, ','); i >= 0 {
			rng, accept = accept[:i], accept[i+1:]
		} else {
			rng, accept = accept, ""
		}
		params := ""
		if i := strings.IndexByte(rng, ';'); i >= 0 {
			rng, params = rng[:i], rng[i:]
		}
		rng = strings.ToLower(strings.TrimSpace(rng))
		if zeroQuality(params) {
			continue // q=0: "not acceptable"
		}
		if rng == "*/*" || rng == "" {
			return true
		}
		for _, p := range op.produces {
			if p == rng || p == "*/*" || strings.HasSuffix(rng, "/*") && strings.HasPrefix(p, rng[:len(rng)-1]) ||
				strings.HasSuffix(p, "/*") && strings.HasPrefix(rng, p[:len(p)-1]) {
				return true
			}
		}
	}
	return false
}

// zeroQuality reports whether a media range's parameters (";q=0.5;...")
// give it the weight 0: q=0, 0., 0.0, 0.00 or 0.000 (RFC 9110 §12.4.2).
func zeroQuality(params string) bool {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(strings.TrimPrefix(params, ";"), ";")
		name, val, _ := strings.Cut(p, "=")
		if !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		val = strings.TrimSpace(val)
		if val == "" || val[0] != '0' {
			return false
		}
		return strings.Trim(val[1:], ".0") == "" && len(val) <= 5
	}
	return false
}
