package openapi

import (
	"fmt"
	"strings"
)

// pathEntry is one path template of the document: "/orders/{id}/items".
type pathEntry struct {
	template string
	segs     []tseg
	ops      map[string]*operation // by method
	allow    string                // for a 405's Allow
}

// tseg is one segment of a template: a literal, or a parameter with an
// optional literal prefix and suffix ("{id}", "report.{format}").
type tseg struct {
	lit            string
	param          bool
	prefix, suffix string
}

const maxPathParams = 8

func parseTemplate(t string) (*pathEntry, error) {
	if !strings.HasPrefix(t, "/") {
		return nil, fmt.Errorf("a path template must start with /")
	}
	pe := &pathEntry{template: t}
	n := 0
	for _, s := range strings.Split(strings.TrimPrefix(t, "/"), "/") {
		open := strings.IndexByte(s, '{')
		if open < 0 {
			pe.segs = append(pe.segs, tseg{lit: s})
			continue
		}
		close := strings.IndexByte(s, '}')
		if close < open || strings.IndexByte(s[close+1:], '{') >= 0 {
			return nil, fmt.Errorf("segment %q: one {parameter} per segment is supported", s)
		}
		n++
		pe.segs = append(pe.segs, tseg{param: true, prefix: s[:open], suffix: s[close+1:]})
	}
	if n > maxPathParams {
		return nil, fmt.Errorf("more than %d path parameters", maxPathParams)
	}
	return pe, nil
}

func templateParams(t string) []string {
	var out []string
	for _, s := range strings.Split(t, "/") {
		if o, c := strings.IndexByte(s, '{'), strings.IndexByte(s, '}'); o >= 0 && c > o {
			out = append(out, s[o+1:c])
		}
	}
	return out
}

// moreSpecific orders templates so that the first to match is the most
// specific: segment by segment, a literal beats a parameter
// (/orders/mine before /orders/{id}), as the specification requires.
func moreSpecific(a, b *pathEntry) bool {
	for i := 0; i < len(a.segs) && i < len(b.segs); i++ {
		if a.segs[i].param != b.segs[i].param {
			return !a.segs[i].param
		}
	}
	return len(a.segs) > len(b.segs)
}

// captures holds a match's path parameter values (slices of the path).
type captures struct {
	vals [maxPathParams]string
	n    int
}

// match finds the path entry for a request path, without allocating.
func (sp *spec) match(path string, cap *captures) *pathEntry {
	for _, base := range sp.bases {
		if !strings.HasPrefix(path, base) {
			continue
		}
		rest := path[len(base):]
		if rest == "" {
			rest = "/"
		}
		if rest[0] != '/' {
			continue
		}
		for _, pe := range sp.paths {
			if pe.matches(rest, cap) {
				return pe
			}
		}
	}
	return nil
}

func (pe *pathEntry) matches(p string, cap *captures) bool {
	cap.n = 0
	p = p[1:]
	for i, s := range pe.segs {
		var seg string
		if j := strings.IndexByte(p, '/'); j >= 0 {
			seg, p = p[:j], p[j+1:]
		} else {
			seg, p = p, ""
			if i != len(pe.segs)-1 {
				return false
			}
		}
		if !s.param {
			if seg != s.lit {
				return false
			}
			continue
		}
		if len(seg) < len(s.prefix)+len(s.suffix)+1 || !strings.HasPrefix(seg, s.prefix) || !strings.HasSuffix(seg, s.suffix) {
			return false
		}
		cap.vals[cap.n] = seg[len(s.prefix) : len(seg)-len(s.suffix)]
		cap.n++
	}
	return p == ""
}
