package config

import (
	"fmt"
	"regexp"
	"strings"
)

// callName is what an aggregate call may be called: no '.', since
// {name.field} placeholders split on it.
var callName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// reservedCallNames are placeholder prefixes a call name would shadow.
var reservedCallNames = []string{"header", "query", "claim", "route", "request", "client", "consumer"}

// PartialKey is the top-level key of an aggregate response that lists the
// optional calls left out; no call may place a result under it.
const PartialKey = "_partial"

// aggregate checks an aggregate target: each call's fields, and that the
// calls form a DAG through After (no unknown names, no cycles, and no
// required call waiting on an optional one, which could never run).
// Placeholders are checked when the route is built, against its params.
func (v *Validator) aggregate(p string, r *Route) {
	a := r.Aggregate
	if r.Rewrite.Path != "" || r.Rewrite.StripPrefix != "" {
		v.Errorf(p+".rewrite", "rewrite does not apply to an aggregate; each call's path says what its backend gets")
	}
	p += ".aggregate"
	if len(a.Calls) == 0 {
		v.Errorf(p+".calls", `an aggregate needs at least one call, e.g. calls: [{upstream: users, path: "/users/{id}", as: profile}]`)
		return
	}
	index := map[string]int{}
	for i := range a.Calls {
		c := &a.Calls[i]
		cp := JoinIndex(p+".calls", i)
		name := c.CallName()
		switch j, dup := index[name]; {
		case !callName.MatchString(name):
			v.Errorf(cp+".name", "call name %q is not valid; use letters, digits, '_' and '-' (no '.')", name)
		case indexOf(reservedCallNames, name) >= 0:
			v.Errorf(cp+".name", "call name %q is reserved for placeholders; choose another name", name)
		case dup:
			v.Errorf(cp+".name", "call name %q is already used by calls[%d]; set name: to tell them apart", name, j)
		default:
			index[name] = i
		}
		v.aggregateCall(cp, c)
	}
	v.aggregateKeys(p, a.Calls)
	v.aggregateGraph(p, a.Calls, index)
}

func (v *Validator) aggregateCall(cp string, c *AggregateCall) {
	if c.Upstream == "" {
		v.Errorf(cp+".upstream", "an upstream is required; valid upstreams: %s", validList(sortedKeys(v.c.Upstreams)))
	} else {
		v.Upstream(cp+".upstream", c.Upstream)
	}
	if c.Method != "" && !IsToken(c.Method) {
		v.Errorf(cp+".method", "%q is not a valid HTTP method (a token like GET)", c.Method)
	}
	if !strings.HasPrefix(c.Path, "/") {
		v.Errorf(cp+".path", "%q must start with \"/\", e.g. /users/{id}", c.Path)
	} else if strings.ContainsRune(c.Path, '#') {
		v.Errorf(cp+".path", "%q must not have a fragment", c.Path)
	}
	for _, h := range sortedKeys(c.Headers) {
		if !IsToken(h) {
			v.Errorf(JoinKey(cp+".headers", h), "%q is not a valid header name (RFC 9110 token)", h)
		}
	}
	for i, h := range c.PassHeaders {
		if !IsToken(h) {
			v.Errorf(JoinIndex(cp+".pass_headers", i), "%q is not a valid header name (RFC 9110 token)", h)
		}
	}
	switch {
	case c.Merge && c.As != "":
		v.Errorf(cp+".as", "as and merge are exclusive: place the result under a key, or merge its fields")
	case !c.Merge && c.As == "":
		v.Errorf(cp, "say where the result goes: as: <key>, or merge: true")
	}
	if c.Group != "" && !callName.MatchString(c.Group) {
		v.Errorf(cp+".group", "group %q is not valid; use letters, digits, '_' and '-'", c.Group)
	}
	for _, k := range []struct{ field, key string }{{"as", c.As}, {"group", c.Group}} {
		if k.key == PartialKey {
			v.Errorf(cp+"."+k.field, "%q is reserved for the list of calls left out", PartialKey)
		}
	}
	if c.Select != "" && (strings.HasPrefix(c.Select, ".") || strings.HasSuffix(c.Select, ".") || strings.Contains(c.Select, "..")) {
		v.Errorf(cp+".select", "%q is not a path; write fields and list indexes separated by '.', e.g. data.items", c.Select)
	}
	if len(c.Allow) > 0 && len(c.Deny) > 0 {
		v.Errorf(cp+".deny", "allow and deny are exclusive: allow lists the fields kept, deny the fields removed")
	}
	for _, old := range sortedKeys(c.Rename) {
		if c.Rename[old] == "" {
			v.Errorf(JoinKey(cp+".rename", old), "the new name is empty")
		}
	}
}

// aggregateKeys checks that no two calls place results under the same key.
func (v *Validator) aggregateKeys(p string, calls []AggregateCall) {
	type slot struct{ group, key string }
	used := map[slot]int{}
	groups := map[string]int{}
	for i, c := range calls {
		if c.Group != "" {
			groups[c.Group] = i
		}
	}
	for i, c := range calls {
		if c.As == "" {
			continue
		}
		s := slot{c.Group, c.As}
		if j, dup := used[s]; dup {
			v.Errorf(JoinIndex(p+".calls", i)+".as", "key %q is already used by calls[%d]; results would overwrite each other", c.As, j)
			continue
		}
		used[s] = i
		if j, isGroup := groups[c.As]; isGroup && c.Group == "" {
			v.Errorf(JoinIndex(p+".calls", i)+".as", "key %q is also the group of calls[%d]; results would overwrite each other", c.As, j)
		}
	}
}

// aggregateGraph checks After: known names, no cycles (depth-first, the
// cycle reported at the reference that closes it), and required calls only
// after required ones.
func (v *Validator) aggregateGraph(p string, calls []AggregateCall, index map[string]int) {
	for i, c := range calls {
		for k, dep := range c.After {
			field := JoinIndex(p+".calls", i) + ".after"
			if len(c.After) > 1 {
				field = JoinIndex(field, k)
			}
			j, ok := index[dep]
			switch {
			case !ok:
				names := sortedKeys(index)
				msg := fmt.Sprintf("unknown call %q; valid calls: %s", dep, validList(names))
				if s := Closest(dep, names); s != "" {
					msg += fmt.Sprintf("; did you mean %q?", s)
				}
				v.Errorf(field, "%s", msg)
			case j == i:
				v.Errorf(field, "a call cannot wait for itself")
			case c.IsRequired() && !calls[j].IsRequired():
				v.Errorf(field, "required call %q waits for optional call %q, which may be left out; make %q optional (required: false) or %q required", calls[i].CallName(), dep, calls[i].CallName(), dep)
			}
		}
	}
	const (
		unvisited = iota
		onPath
		done
	)
	state := make([]int, len(calls))
	var path []int
	var visit func(i int)
	visit = func(i int) {
		state[i] = onPath
		path = append(path, i)
		for _, dep := range calls[i].After {
			j, ok := index[dep]
			if !ok || j == i {
				continue
			}
			switch state[j] {
			case onPath:
				var names []string
				for _, k := range path[indexOfInt(path, j):] {
					names = append(names, calls[k].CallName())
				}
				names = append(names, dep)
				v.Errorf(JoinIndex(p+".calls", i)+".after", "calls wait for each other in a cycle: %s; none of them could start", strings.Join(names, " -> "))
			case unvisited:
				visit(j)
			}
		}
		path = path[:len(path)-1]
		state[i] = done
	}
	for i := range calls {
		if state[i] == unvisited {
			visit(i)
		}
	}
}

func indexOfInt(s []int, x int) int {
	for i, v := range s {
		if v == x {
			return i
		}
	}
	return -1
}
