package filter

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/wasmgate/wasmgate/core/config"
)

// Template is a string with placeholders filled from the exchange, compiled
// once at load. Placeholders:
//
//	{name}            a route parameter
//	{route.name}      the route's name
//	{request.method}  {request.path}  {request.host}  {request.query}
//	{header.NAME}     a request header (first value)
//	{query.NAME}      a query parameter (first value)
//	{client.ip}       the client address
//	{consumer.name}   the authenticated consumer ("" if none)
//	{claim.NAME}      a claim of the verified token (see ClaimsKey; "" if none)
//
// "{{" and "}}" stand for literal braces.
type Template struct {
	parts  []part
	static string // the whole value when there are no placeholders
}

type partKind uint8

const (
	literal partKind = iota
	routeParam
	routeName
	reqMethod
	reqPath
	reqHost
	reqQuery
	reqHeader
	queryParam
	clientIP
	consumerName
	claimValue
)

type part struct {
	kind partKind
	text string // literal text, or the parameter/header/query name
}

var namedParts = map[string]partKind{
	"route.name":     routeName,
	"request.method": reqMethod,
	"request.path":   reqPath,
	"request.host":   reqHost,
	"request.query":  reqQuery,
	"client.ip":      clientIP,
	"consumer.name":  consumerName,
}

// CompileTemplate parses s. params are the route's parameter names; a {name}
// that is not among them is an error, so typos fail at load, not per request.
func CompileTemplate(s string, params []string) (*Template, error) {
	t := &Template{}
	err := ScanTemplate(s,
		func(text string) { t.parts = append(t.parts, part{kind: literal, text: text}) },
		func(name string) error {
			p, err := parsePlaceholder(name, params)
			t.parts = append(t.parts, p)
			return err
		})
	if err != nil {
		return nil, err
	}
	if len(t.parts) == 1 && t.parts[0].kind == literal {
		t.static = t.parts[0].text
		t.parts = nil
	}
	return t, nil
}

// ScanTemplate splits s into literal text and {placeholder} names, with "{{"
// and "}}" standing for literal braces: the one template syntax of the
// gateway (header values, aggregate calls). literal gets each run of text
// between placeholders, placeholder each name in order; an error from
// placeholder stops the scan.
func ScanTemplate(s string, literal func(text string), placeholder func(name string) error) error {
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			literal(lit.String())
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '{' && i+1 < len(s) && s[i+1] == '{':
			lit.WriteByte('{')
			i++
		case c == '}' && i+1 < len(s) && s[i+1] == '}':
			lit.WriteByte('}')
			i++
		case c == '}':
			return fmt.Errorf("unmatched '}' in %q (write '}}' for a literal brace)", s)
		case c == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return fmt.Errorf("unclosed '{' in %q (write '{{' for a literal brace)", s)
			}
			flush()
			if err := placeholder(s[i+1 : i+end]); err != nil {
				return err
			}
			i += end
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return nil
}

func parsePlaceholder(name string, params []string) (part, error) {
	if k, ok := namedParts[name]; ok {
		return part{kind: k}, nil
	}
	if h, ok := strings.CutPrefix(name, "header."); ok && h != "" {
		return part{kind: reqHeader, text: http.CanonicalHeaderKey(h)}, nil
	}
	if q, ok := strings.CutPrefix(name, "query."); ok && q != "" {
		return part{kind: queryParam, text: q}, nil
	}
	if c, ok := strings.CutPrefix(name, "claim."); ok && c != "" {
		return part{kind: claimValue, text: c}, nil
	}
	if !strings.Contains(name, ".") && slices.Contains(params, name) {
		return part{kind: routeParam, text: name}, nil
	}
	valid := "route.name, request.method, request.path, request.host, request.query, header.NAME, query.NAME, claim.NAME, client.ip, consumer.name"
	if len(params) > 0 {
		valid = "a route parameter (" + strings.Join(params, ", ") + "), " + valid
	}
	msg := fmt.Sprintf("unknown placeholder {%s}; valid: %s", name, valid)
	candidates := append(slices.Sorted(maps.Keys(namedParts)), params...)
	if s := config.Closest(name, candidates); s != "" {
		msg += fmt.Sprintf("; did you mean {%s}?", s)
	}
	return part{}, errors.New(msg)
}

// IsStatic reports whether the template has no placeholders.
func (t *Template) IsStatic() bool { return t.parts == nil }

// Render fills the template from x. A static template costs nothing.
func (t *Template) Render(x *Exchange) string {
	if t.parts == nil {
		return t.static
	}
	var b strings.Builder
	for _, p := range t.parts {
		b.WriteString(p.value(x))
	}
	return b.String()
}

func (p part) value(x *Exchange) string {
	r := x.Request
	switch p.kind {
	case literal:
		return p.text
	case routeParam:
		v, _ := x.Params.Get(p.text)
		return v
	case routeName:
		return x.Route
	case reqMethod:
		return r.Method
	case reqPath:
		return r.URL.EscapedPath()
	case reqHost:
		return r.Host
	case reqQuery:
		return r.URL.RawQuery
	case reqHeader:
		if vs := r.Header[p.text]; len(vs) > 0 {
			return vs[0]
		}
	case queryParam:
		return r.URL.Query().Get(p.text)
	case clientIP:
		if x.ClientIP.IsValid() {
			return x.ClientIP.String()
		}
	case consumerName:
		if x.Consumer != nil {
			return x.Consumer.Name
		}
	case claimValue:
		v, _ := Claim(x, p.text)
		return v
	}
	return ""
}
