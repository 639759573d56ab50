package router

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// segment is one parsed segment of a path template.
type segment struct {
	text     string // the literal text, or the parameter name
	param    bool   // {name}: exactly one non-empty segment
	catchAll bool   // {name...}: the rest of the path, last only
}

// parseTemplate splits a match.path template into segments. "/" is one
// empty literal segment; "/a/" is "a" then an empty one, so a trailing slash
// is part of the path, as it is in Canonicalize.
func parseTemplate(path string) ([]segment, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("%q must start with /", path)
	}
	parts := strings.Split(path[1:], "/")
	segs := make([]segment, 0, len(parts))
	for i, p := range parts {
		if !strings.ContainsAny(p, "{}") {
			segs = append(segs, segment{text: p})
			continue
		}
		if len(p) < 2 || p[0] != '{' || p[len(p)-1] != '}' {
			return nil, fmt.Errorf("%q: a parameter must be a whole segment, like /users/{id}", p)
		}
		name, catchAll := strings.CutSuffix(p[1:len(p)-1], "...")
		if !isIdent(name) {
			return nil, fmt.Errorf("%q: a parameter name must match [A-Za-z_][A-Za-z0-9_]*", p)
		}
		if slices.ContainsFunc(segs, func(s segment) bool { return (s.param || s.catchAll) && s.text == name }) {
			return nil, fmt.Errorf("parameter %q appears twice", name)
		}
		if catchAll && i != len(parts)-1 {
			return nil, fmt.Errorf("%q: a catch-all parameter must be the last segment", p)
		}
		segs = append(segs, segment{text: name, param: !catchAll, catchAll: catchAll})
	}
	// Literal parts must already be canonical, or no request could match them.
	if err := checkCanonical(literalForm(segs)); err != nil {
		return nil, err
	}
	return segs, nil
}

// literalForm is the template with every parameter replaced by a plain
// segment, for checking that the literal parts are canonical.
func literalForm(segs []segment) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		if s.param || s.catchAll {
			b.WriteByte('p')
		} else {
			b.WriteString(s.text)
		}
	}
	return b.String()
}

// checkCanonical refuses a configured path that Canonicalize would change:
// such a route could never match, which is surely not what was meant.
// Slash merging is a server setting, so only the merge-free form is checked.
func checkCanonical(p string) error {
	if strings.ContainsAny(p, "?#") {
		return fmt.Errorf("%q: a path has no query or fragment", p)
	}
	c, err := Canonicalize(p, false)
	if err != nil {
		return fmt.Errorf("%q is not a valid path: %s", p, err.(*PathError).Reason)
	}
	if c != p {
		return fmt.Errorf("%q is not in canonical form; write it as %q", p, c)
	}
	return nil
}

// isIdent reports whether s is a parameter name: [A-Za-z_][A-Za-z0-9_]*.
func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// compileRegex anchors expr to the whole path and checks its group names,
// which become parameter names.
func compileRegex(expr string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(`^(?:` + expr + `)$`)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, n := range re.SubexpNames()[1:] {
		if n == "" {
			continue
		}
		if !isIdent(n) {
			return nil, fmt.Errorf("group name %q must match [A-Za-z_][A-Za-z0-9_]*", n)
		}
		if seen[n] {
			return nil, fmt.Errorf("group name %q appears twice", n)
		}
		seen[n] = true
	}
	return re, nil
}
