package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/wasmgate/wasmgate/core/internal/httpsyntax"
)

func (v *Validator) routes() {
	names := map[string]int{}
	for i := range v.c.Routes {
		r := &v.c.Routes[i]
		p := JoinIndex("routes", i)
		switch j, dup := names[r.Name]; {
		case r.Name == "":
			v.Errorf(p+".name", "a route needs a name (letters, digits, '_', '.', '-'), unique among routes")
		case dup:
			v.Errorf(p+".name", "route name %q is already used by routes[%d]; names must be unique", r.Name, j)
		default:
			v.Name(p+".name", "route", r.Name)
			names[r.Name] = i
		}
		v.match(p+".match", &r.Match)
		for j, f := range r.Filters {
			v.filterEntry(JoinIndex(p+".filters", j), f)
		}
		v.target(p, r)
		if r.Split == nil {
			v.splitExtras(p, r)
		}
		v.mirror(p, r)        // mirror.go
		v.routePolicies(p, r) // upstreams_validate.go
		if s := r.Rewrite.StripPrefix; s != "" && !strings.HasPrefix(s, "/") {
			v.Errorf(p+".rewrite.strip_prefix", "%q must start with \"/\", e.g. /api", s)
		}
		if s := r.Rewrite.Path; s != "" && !strings.HasPrefix(s, "/") {
			v.Errorf(p+".rewrite.path", "%q must start with \"/\", e.g. /users/{id}", s)
		}
	}
}

// target checks that a route has exactly one target, and that it exists.
func (v *Validator) target(p string, r *Route) {
	var set []string
	for _, t := range []struct {
		name string
		on   bool
	}{{"upstream", r.Upstream != ""}, {"respond", r.Respond != nil}, {"redirect", r.Redirect != nil}, {"aggregate", r.Aggregate != nil}, {"split", r.Split != nil}} {
		if t.on {
			set = append(set, t.name)
		}
	}
	switch {
	case len(set) == 0:
		v.Errorf(p, "a route needs a target: upstream: <name>, split: [{upstream: <name>, weight: N}, ...], respond: {status: 200}, redirect: {location: /new} or aggregate: {calls: [...]}")
	case len(set) > 1:
		v.Errorf(p+"."+set[1], "%s are exclusive targets; keep one", strings.Join(set, " and "))
	case r.Aggregate != nil:
		v.aggregate(p, r) // aggregate_validate.go
	case r.Upstream != "":
		v.Upstream(p+".upstream", r.Upstream)
	case r.Split != nil:
		v.split(p, r) // split.go
	case r.Redirect != nil:
		v.redirect(p+".redirect", r.Redirect)
		if rd := r.Redirect; rd.HTTPS && rd.Location == "" && r.Match.Scheme == "https" {
			v.Errorf(p+".match.scheme", "this route upgrades to https the URL it was asked for; matching https requests would send a client to itself forever (leave scheme out: an upgrade matches http only)")
		}
	default:
		if s := r.Respond.Status; s < 100 || s > 599 {
			v.Errorf(p+".respond.status", "%d is not an HTTP status; valid: 100 to 599", s)
		}
		for _, h := range sortedKeys(r.Respond.Headers) {
			if !IsToken(h) {
				v.Errorf(JoinKey(p+".respond.headers", h), "%q is not a valid header name (RFC 9110 token: letters, digits and !#$%%&'*+-.^_`|~)", h)
			} else if i := controlByte(r.Respond.Headers[h]); i >= 0 {
				v.Errorf(JoinKey(p+".respond.headers", h), "the value holds a control character (byte %d); a header value is printable text", i)
			}
		}
	}
}

// redirect checks a redirect target; its location template is compiled,
// and its placeholders checked, when the route is built.
func (v *Validator) redirect(p string, r *Redirect) {
	switch r.Status {
	case 301, 302, 303, 307, 308:
	default:
		v.Errorf(p+".status", "%d is not a redirect status; valid: 301, 302 (the default), 303, 307, 308", r.Status)
	}
	loc := r.Location
	absolute := strings.HasPrefix(loc, "http://") || strings.HasPrefix(loc, "https://")
	switch {
	case loc != "" && !absolute && !strings.HasPrefix(loc, "/"):
		v.Errorf(p+".location", "%q is neither a path (starting with \"/\") nor an absolute http:// or https:// URL", loc)
	case strings.HasPrefix(loc, "//"):
		v.Errorf(p+".location", "%q is a scheme-relative URL; write the scheme (https://host/path) or a path", loc)
	case absolute && r.HTTPS:
		v.Errorf(p+".https", "https applies to a location that is a path; the location %q names its own scheme", loc)
	}
	if i := controlByte(loc); i >= 0 {
		v.Errorf(p+".location", "the location holds a control character (byte %d)", i)
	}
	switch {
	case r.Port != 0 && !r.HTTPS:
		v.Errorf(p+".port", "port applies with https: true (the port of the https:// location)")
	case r.Port < 0 || r.Port > 65535:
		v.Errorf(p+".port", "%d is not a port; valid: 1 to 65535", r.Port)
	}
}

func (v *Validator) match(p string, m *Match) {
	set := 0
	for _, s := range []string{m.Path, m.Prefix, m.Regex} {
		if s != "" {
			set++
		}
	}
	if set > 1 {
		v.Errorf(p, "path, prefix and regex are exclusive; set at most one")
	}
	for _, f := range []struct{ name, val string }{{"path", m.Path}, {"prefix", m.Prefix}} {
		if f.val != "" && !strings.HasPrefix(f.val, "/") {
			v.Errorf(p+"."+f.name, "%q must start with \"/\"", f.val)
		}
	}
	v.regex(p+".regex", m.Regex)
	for i, h := range m.Hosts {
		if h == "" {
			v.Errorf(JoinIndex(p+".hosts", i), "empty host; write a name like api.example.com or *.example.com")
		}
	}
	for i, method := range m.Methods {
		if !IsToken(method) {
			v.Errorf(JoinIndex(p+".methods", i), "%q is not a valid HTTP method (a token like GET or PURGE)", method)
		} else if !v.c.Server.AllowLowercaseMethods && strings.ToUpper(method) != method {
			v.Errorf(JoinIndex(p+".methods", i), "%q would never match: requests with lowercase methods are refused; write %q, or set server.allow_lowercase_methods", method, strings.ToUpper(method))
		}
	}
	for i, h := range m.Headers {
		hp := JoinIndex(p+".headers", i)
		if h.Name != "" && !IsToken(h.Name) {
			v.Errorf(hp+".name", "%q is not a valid header name (RFC 9110 token: letters, digits and !#$%%&'*+-.^_`|~)", h.Name)
		}
		v.valueMatch(hp, h)
	}
	for i, q := range m.Query {
		v.valueMatch(JoinIndex(p+".query", i), q)
	}
}

func (v *Validator) valueMatch(p string, m ValueMatch) {
	if m.Name == "" {
		v.Errorf(p+".name", "a name is required")
	}
	set := 0
	for _, b := range []bool{m.Value != "", m.Regex != "", m.Absent} {
		if b {
			set++
		}
	}
	if set > 1 {
		v.Errorf(p, "value, regex and absent are exclusive; set at most one (none: the name must be present)")
	}
	v.regex(p+".regex", m.Regex)
}

func (v *Validator) regex(field, expr string) {
	if expr == "" {
		return
	}
	if _, err := regexp.Compile(expr); err != nil {
		v.Errorf(field, "%q is not a valid RE2 regular expression: %s", expr, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
}

// IsToken reports whether s is an RFC 9110 token (section 5.6.2), the
// syntax of methods and header names. Filters validate names with it too.
func IsToken(s string) bool { return httpsyntax.IsToken(s) }

// checkTargetURL accepts http(s)://host[:port][/base path]: a target names
// where to connect and nothing else. Credentials, queries and fragments
// would be silently dropped or leak into logs, so they are refused.
func checkTargetURL(s string) error {
	const want = "want http://host:port or https://host:port, optionally with a base path"
	if s == "" {
		return fmt.Errorf("a url is required; %s", want)
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL; %s", s, want)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q: the scheme must be http or https; %s", s, want)
	case u.Opaque != "" || u.Hostname() == "":
		return fmt.Errorf("%q has no host; %s", s, want)
	case u.User != nil:
		return fmt.Errorf("%q must not hold credentials; %s (send credentials with a filter)", s, want)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return fmt.Errorf("%q must not have a query or fragment; %s", s, want)
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q: the port must be a number from 1 to 65535; %s", s, want)
		}
	}
	return nil
}

// chains checks the named filter chains: their names, their entries, and
// that no chain includes itself, directly or through others.
func (v *Validator) chains() {
	names := sortedKeys(v.c.FilterChains)
	for _, name := range names {
		p := JoinKey("filter_chains", name)
		v.Name(p, "filter chain", name)
		for i, f := range v.c.FilterChains[name] {
			v.filterEntry(JoinIndex(p, i), f)
		}
	}
	// Depth-first search; a reference back to a chain on the current path
	// closes a cycle and is reported at that reference.
	const (
		unvisited = iota
		onPath
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(name string)
	visit = func(name string) {
		state[name] = onPath
		path = append(path, name)
		for i, f := range v.c.FilterChains[name] {
			ref, ok := chainRefName(f)
			if !ok {
				continue
			}
			switch state[ref] {
			case onPath:
				start := indexOf(path, ref)
				cycle := strings.Join(append(append([]string{}, path[start:]...), ref), " -> ")
				v.Errorf(JoinIndex(JoinKey("filter_chains", name), i)+".chain", "filter chains include each other in a cycle: %s; a chain cannot include itself", cycle)
			case unvisited:
				if _, exists := v.c.FilterChains[ref]; exists {
					visit(ref)
				}
			}
		}
		path = path[:len(path)-1]
		state[name] = done
	}
	for _, name := range names {
		if state[name] == unvisited {
			visit(name)
		}
	}
}

// filterEntry checks what the core knows about a filters-list entry: a
// "chain" entry must be well formed and name a chain that exists (chains.go).
// Other filter names and their blocks belong to the filter registry and are
// checked when built.
func (v *Validator) filterEntry(p string, f FilterSpec) {
	if f.Name == "chain" {
		v.checkChainRef(p, f)
	}
}

func indexOf(s []string, x string) int {
	for i, v := range s {
		if v == x {
			return i
		}
	}
	return -1
}
