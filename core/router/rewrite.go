package router

import (
	"fmt"
	"slices"
	"strings"

	"github.com/wasmgate/wasmgate/core/config"
)

// Rewriter changes the path a route forwards: it strips a leading prefix or
// fills a path template from the route's params. It is compiled once per
// route; a nil *Rewriter leaves paths unchanged.
type Rewriter struct {
	strip string // segment-aligned, without trailing "/"; "" when templating
	parts []part // the template; nil when stripping
}

// part is a piece of a compiled template: literal text or a parameter.
type part struct {
	text  string
	param bool
}

// NewRewriter compiles rw for a route matching m. It returns nil, nil when
// rw asks for nothing. Errors are config.FieldErr relative to the route
// ("rewrite.path"), checked against m so that a typo fails at load, not at
// request time.
func NewRewriter(rw config.Rewrite, m config.Match) (*Rewriter, error) {
	switch {
	case rw.StripPrefix == "" && rw.Path == "":
		return nil, nil
	case rw.StripPrefix != "" && rw.Path != "":
		return nil, config.FieldErr("rewrite", "set strip_prefix or path, not both: path replaces the whole path")
	case rw.Path != "":
		names, err := ParamNames(m)
		if err != nil {
			return nil, err
		}
		parts, err := compileTemplate(rw.Path, names)
		if err != nil {
			return nil, config.FieldErr("rewrite.path", "%v", err)
		}
		return &Rewriter{parts: parts}, nil
	}
	strip := strings.TrimSuffix(rw.StripPrefix, "/")
	if !strings.HasPrefix(rw.StripPrefix, "/") {
		return nil, config.FieldErr("rewrite.strip_prefix", "%q must start with /", rw.StripPrefix)
	}
	if err := checkCanonical(rw.StripPrefix); err != nil {
		return nil, config.FieldErr("rewrite.strip_prefix", "%v", err)
	}
	if static, ok := staticPart(m); ok && !hasSegmentPrefix(static, strip) {
		return nil, config.FieldErr("rewrite.strip_prefix",
			"%q is not a leading part of the route's path %q; it must end on a segment boundary before any {param}", rw.StripPrefix, static)
	}
	if strip == "" {
		return nil, nil // stripping "/" changes nothing
	}
	return &Rewriter{strip: strip}, nil
}

// Apply returns the path to forward: canonical, starting with "/".
// Stripping a prefix that is the whole path gives "/". A path that does not
// start with the prefix (possible on regex routes) is returned unchanged.
// Param values go in as captured: canonical segments, and a catch-all's
// value may hold "/".
func (rw *Rewriter) Apply(path string, params Params) string {
	if rw == nil {
		return path
	}
	if rw.parts == nil {
		rest, ok := strings.CutPrefix(path, rw.strip)
		switch {
		case !ok || rest != "" && rest[0] != '/':
			return path
		case rest == "":
			return "/"
		}
		return rest
	}
	n := 0
	for _, p := range rw.parts {
		if p.param {
			v, _ := params.Get(p.text)
			n += len(v)
		} else {
			n += len(p.text)
		}
	}
	var b strings.Builder
	b.Grow(n)
	emptyParam := false
	for _, p := range rw.parts {
		switch {
		case p.param:
			v, _ := params.Get(p.text)
			b.WriteString(v)
			emptyParam = v == ""
		case emptyParam && strings.HasPrefix(p.text, "/") && strings.HasSuffix(b.String(), "/"):
			// An empty catch-all between two slashes leaves one, not "//".
			b.WriteString(p.text[1:])
		default:
			b.WriteString(p.text)
		}
	}
	return b.String()
}

// compileTemplate splits a rewrite path into literal text and {name}
// placeholders, each of which must be one of names.
func compileTemplate(tmpl string, names []string) ([]part, error) {
	if !strings.HasPrefix(tmpl, "/") {
		return nil, fmt.Errorf("%q must start with /", tmpl)
	}
	var parts []part
	var literal strings.Builder // the template with each param as "p", for the canonical check
	for rest := tmpl; rest != ""; {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			open = len(rest)
		}
		if strings.IndexByte(rest[:open], '}') >= 0 {
			return nil, fmt.Errorf("%q: unmatched }", tmpl)
		}
		if open > 0 {
			parts = append(parts, part{text: rest[:open]})
			literal.WriteString(rest[:open])
		}
		rest = rest[open:]
		if rest == "" {
			break
		}
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return nil, fmt.Errorf("%q: unclosed {", tmpl)
		}
		name := strings.TrimSuffix(rest[1:end], "...") // {rest...} as in match.path
		if !slices.Contains(names, name) {
			return nil, fmt.Errorf("{%s} is not a parameter of this route; it has %s", name, describe(names))
		}
		parts = append(parts, part{text: name, param: true})
		literal.WriteByte('p')
		rest = rest[end+1:]
	}
	if err := checkCanonical(literal.String()); err != nil {
		return nil, err
	}
	return parts, nil
}

func describe(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return "{" + strings.Join(names, "}, {") + "}"
}

// ParamNames lists the parameters a route with match m captures: the
// {name} and {name...} segments of its path, or its regex's named groups.
func ParamNames(m config.Match) ([]string, error) {
	var names []string
	switch {
	case m.Path != "":
		segs, err := parseTemplate(m.Path)
		if err != nil {
			return nil, config.FieldErr("match.path", "%v", err)
		}
		for _, s := range segs {
			if s.param || s.catchAll {
				names = append(names, s.text)
			}
		}
	case m.Regex != "":
		re, err := compileRegex(m.Regex)
		if err != nil {
			return nil, config.FieldErr("match.regex", "%v", err)
		}
		for _, n := range re.SubexpNames() {
			if n != "" {
				names = append(names, n)
			}
		}
	}
	return names, nil
}

// staticPart is the literal leading part of m's path or prefix (up to the
// first parameter), and whether there is one to check a strip_prefix against.
func staticPart(m config.Match) (string, bool) {
	switch {
	case m.Prefix != "":
		return m.Prefix, true
	case m.Path != "":
		p := m.Path
		if i := strings.IndexByte(p, '{'); i >= 0 {
			p = p[:i]
		}
		return p, true
	}
	return "", false
}

// hasSegmentPrefix reports whether strip (no trailing "/") is p or a
// leading run of whole segments of it.
func hasSegmentPrefix(p, strip string) bool {
	rest, ok := strings.CutPrefix(p, strip)
	return ok && (rest == "" || rest[0] == '/')
}
