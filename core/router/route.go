package router

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/wasmgate/wasmgate/core/config"
)

// route is one compiled entry: its path shape (where it sits in the tree) and
// the conditions checked once the path matched.
type route[T any] struct {
	index int // position in the entries: the final tie-break
	value T

	prefix string         // match.prefix (or "/" for any path)
	re     *regexp.Regexp // match.regex
	groups []int          // re's named groups, in names order
	names  []string       // parameter names, in capture order

	catchAll  bool // segs ends in {name...}
	needSlash bool // a prefix ending in "/": something must follow the node

	methods []string // nil: any method; shared by routes with the same list
	headers []valueMatcher
	query   []valueMatcher
	scheme  string // "http", "https" or "": any
	version string // normalized; "": any
}

// valueMatcher is one compiled header or query condition.
type valueMatcher struct {
	name   string // canonical header key, or the query parameter name
	value  string
	re     *regexp.Regexp
	exact  bool // compare with value
	absent bool
}

// conditions counts what a route asks beyond its path: among routes on the
// same path, the one that asks more is tried first, so a narrow route is
// not shadowed by a broad one listed before it.
func (r *route[T]) conditions() int {
	n := len(r.headers) + len(r.query)
	if r.methods != nil {
		n++
	}
	if r.scheme != "" {
		n++
	}
	if r.version != "" {
		n++
	}
	return n
}

// allows reports whether method is one the route accepts.
func (r *route[T]) allows(method string) bool {
	return r.methods == nil || slices.Contains(r.methods, method)
}

// matches reports whether one value satisfies m (presence is checked by the caller).
func (m *valueMatcher) matches(v string) bool {
	switch {
	case m.exact:
		return v == m.value
	case m.re != nil:
		return m.re.MatchString(v)
	}
	return true
}

// matchValues applies m to every value a header or query parameter has:
// presence, absence, or at least one value that matches.
func (m *valueMatcher) matchValues(vs []string) bool {
	if m.absent {
		return len(vs) == 0
	}
	for _, v := range vs {
		if m.matches(v) {
			return true
		}
	}
	return false
}

// placement is where a compiled route goes in the table: needed while
// the table is built, not kept by the route.
type placement struct {
	segs  []segment // match.path; nil for a prefix or a regex
	hosts []string  // lowercased; nil: any host
}

// interner hands out one copy of equal lists, so that the routes of a
// large table (most of which allow the same methods and capture the same
// parameter names) do not each hold their own.
type interner map[string][]string

func (in interner) list(s []string) []string {
	if s == nil {
		return nil
	}
	k := strings.Join(s, "\x00")
	if v, ok := in[k]; ok {
		return v
	}
	in[k] = s
	return s
}

// compileRoute validates one entry's Match. Every problem is a
// config.FieldErr named "routes[index].match..."; the caller joins them
// into one flat list, so the loader can place each on its own line.
func compileRoute[T any](index int, e Entry[T], in interner) (*route[T], placement, []error) {
	m := e.Match
	r := &route[T]{index: index, value: e.Value, version: NormalizeVersion(e.Version)}
	var pl placement
	var errs []error
	fail := func(field, format string, args ...any) {
		if field != "" {
			field = "." + field
		}
		errs = append(errs, config.FieldErr(fmt.Sprintf("routes[%d].match", index)+field, format, args...))
	}

	kinds := 0
	for _, s := range []string{m.Path, m.Prefix, m.Regex} {
		if s != "" {
			kinds++
		}
	}
	switch {
	case kinds > 1:
		fail("", "set only one of path, prefix and regex")
	case m.Path != "":
		segs, err := parseTemplate(m.Path)
		if err != nil {
			fail("path", "%v", err)
		}
		pl.segs = segs
		for _, s := range segs {
			if s.param || s.catchAll {
				r.names = append(r.names, s.text)
			}
			r.catchAll = s.catchAll
		}
		r.names = in.list(r.names)
	case m.Prefix != "":
		if !strings.HasPrefix(m.Prefix, "/") {
			fail("prefix", "%q must start with /", m.Prefix)
		} else if strings.ContainsAny(m.Prefix, "{}") {
			fail("prefix", "%q: a prefix is literal; for parameters use path with a {name...} catch-all", m.Prefix)
		} else if err := checkCanonical(m.Prefix); err != nil {
			fail("prefix", "%v", err)
		}
		r.prefix = m.Prefix
		r.needSlash = strings.HasSuffix(m.Prefix, "/")
	case m.Regex != "":
		re, err := compileRegex(m.Regex)
		if err != nil {
			fail("regex", "%v", err)
		} else {
			r.re = re
			for g, n := range re.SubexpNames() {
				if n != "" {
					r.names = append(r.names, n)
					r.groups = append(r.groups, g)
				}
			}
		}
	default:
		r.prefix, r.needSlash = "/", true
	}

	for i, h := range m.Hosts {
		n, err := normalizeHost(h)
		if err != nil {
			fail(fmt.Sprintf("hosts[%d]", i), "%v", err)
		} else if !slices.Contains(pl.hosts, n) {
			pl.hosts = append(pl.hosts, n)
		}
	}
	for i, meth := range m.Methods {
		if !config.IsToken(meth) {
			fail(fmt.Sprintf("methods[%d]", i), "%q is not an HTTP method token (methods are case-sensitive, like GET)", meth)
		} else if !slices.Contains(r.methods, meth) {
			r.methods = append(r.methods, meth)
		}
	}
	slices.Sort(r.methods)
	r.methods = in.list(r.methods)

	for i, vm := range m.Headers {
		field := fmt.Sprintf("headers[%d]", i)
		c, err := compileValueMatch(vm)
		if err != nil {
			fail(field+err.field, "%s", err.msg)
			continue
		}
		if !config.IsToken(vm.Name) {
			fail(field+".name", "%q is not a valid header name", vm.Name)
			continue
		}
		c.name = http.CanonicalHeaderKey(vm.Name)
		r.headers = append(r.headers, c)
	}
	switch m.Scheme {
	case "", "http", "https":
		r.scheme = m.Scheme
	default:
		fail("scheme", "%q: want http or https", m.Scheme)
	}
	for i, vm := range m.Query {
		c, err := compileValueMatch(vm)
		if err != nil {
			fail(fmt.Sprintf("query[%d]", i)+err.field, "%s", err.msg)
			continue
		}
		r.query = append(r.query, c)
	}
	return r, pl, errs
}

type matchErr struct{ field, msg string }

func compileValueMatch(vm config.ValueMatch) (valueMatcher, *matchErr) {
	c := valueMatcher{name: vm.Name, value: vm.Value, absent: vm.Absent, exact: vm.Value != ""}
	switch {
	case vm.Name == "":
		return c, &matchErr{".name", "name is required"}
	case vm.Value != "" && vm.Regex != "":
		return c, &matchErr{"", "set value or regex, not both"}
	case vm.Absent && (vm.Value != "" || vm.Regex != ""):
		return c, &matchErr{".absent", "absent takes no value or regex: it means the name is not sent at all"}
	case vm.Regex != "":
		re, err := regexp.Compile(`^(?:` + vm.Regex + `)$`)
		if err != nil {
			return c, &matchErr{".regex", err.Error()}
		}
		c.re = re
	}
	return c, nil
}

// normalizeHost lowercases a configured host, drops a trailing dot (the
// caller does the same to the request's host: "a.example." is
// "a.example") and checks its form: a name, or "*." and a name for every
// subdomain of it. Ports are not part of it: the caller strips the
// request's port before matching.
func normalizeHost(h string) (string, error) {
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	name := strings.TrimPrefix(h, "*.")
	switch {
	case name == "":
		return "", fmt.Errorf("%q: a host is a name like api.example.com or *.example.com", h)
	case strings.Contains(name, "*"):
		return "", fmt.Errorf("%q: a wildcard is only allowed as a leading \"*.\"; leave hosts empty to match any host", h)
	case strings.ContainsAny(name, "/ \t") || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, ".."):
		return "", fmt.Errorf("%q is not a host name", h)
	case strings.Count(name, ":") == 1:
		return "", fmt.Errorf("%q: hosts match without the port; remove it", h)
	}
	return h, nil
}
