// Package router canonicalizes request paths and picks the route for a
// request from a table compiled once per config.
//
// # Priority
//
// For one request the table puts the candidate routes in one fixed order and
// returns the first whose every condition holds. Config order only breaks
// ties that nothing below decides.
//
//  1. Host: routes of the exact host, then of wildcard hosts from the longest
//     suffix down (*.a.example.com before *.example.com), then routes with no
//     hosts. A less specific host is tried when no route of the more
//     specific one matches, so an exact host does not hide the catch-alls.
//  2. Within a host, by path kind: exact and templated paths, then regexes
//     (in config order: their specificity cannot be compared), then prefixes
//     and catch-alls (a route with no path is the prefix "/").
//  3. Within a kind, segment by segment from the left: a static segment beats
//     a {param}, which beats a {rest...} catch-all anchored there. So
//     /users/me beats /users/{id}, which beats /users/{rest...}; and among
//     prefixes on one branch the longer wins (/api/v1 before /api, and
//     /api/ before /api).
//  4. Routes on the same path: more conditions first (each header and query
//     matcher counts one, a method list one), then config order.
//
// A route whose only failed condition is its method does not stop the
// search; if nothing matches at all, the result is MethodNotAllowed with the
// union of those routes' methods.
//
// Hosts are matched case-insensitively; paths and methods are
// case-sensitive (get is not GET).
package router

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/wasmgate/wasmgate/core/config"
)

// Entry is one route to compile: what it matches and what Match returns.
type Entry[T any] struct {
	Match config.Match
	Value T
	// Version, if set, is the API version the route serves: it matches a
	// request whose Facts.Version is the same (see NormalizeVersion).
	Version string
}

// Facts are what the caller judged about a request before routing.
type Facts struct {
	Scheme  string // "http" or "https"
	Version string // the API version the request names (or the default), normalized; "" for none
}

// NormalizeVersion is the one spelling of an API version that routes and
// requests are compared in: lowercase, and a bare number gets its "v"
// ("2" and "V2" are "v2").
func NormalizeVersion(v string) string {
	v = strings.ToLower(strings.TrimSpace(v))
	if v != "" && v[0] >= '0' && v[0] <= '9' {
		return "v" + v
	}
	return v
}

// Result is the outcome of Table.Match.
type Result int

const (
	NotFound Result = iota
	Found
	MethodNotAllowed
)

func (r Result) String() string {
	switch r {
	case Found:
		return "found"
	case MethodNotAllowed:
		return "method not allowed"
	}
	return "not found"
}

// Table is a compiled, immutable route table, safe for concurrent use.
type Table[T any] struct {
	exact    map[string]*hostTable[T] // by lowercased host
	wildcard map[string]*hostTable[T] // by suffix: "*.example.com" is ".example.com"
	anyHost  *hostTable[T]            // routes without hosts; nil if none
	headers  []string                 // canonical names header matchers read, each once
}

// hostTable holds the routes of one host pattern.
type hostTable[T any] struct {
	root    node[T]
	regexes []*route[T] // in config order
}

// Compile builds a table from entries. Errors are config.FieldErr values
// named "routes[i].match...", with i the entry's index, joined.
func Compile[T any](entries []Entry[T]) (*Table[T], error) {
	t := &Table[T]{exact: map[string]*hostTable[T]{}, wildcard: map[string]*hostTable[T]{}}
	var errs []error
	in := interner{}
	for i, e := range entries {
		rt, pl, es := compileRoute(i, e, in)
		if es != nil {
			errs = append(errs, es...)
			continue
		}
		for _, h := range rt.headers {
			if !slices.Contains(t.headers, h.name) {
				t.headers = append(t.headers, h.name)
			}
		}
		if pl.hosts == nil {
			if t.anyHost == nil {
				t.anyHost = &hostTable[T]{}
			}
			t.anyHost.insert(rt, pl.segs)
		}
		for _, h := range pl.hosts {
			m, key := t.exact, h
			if suffix, ok := strings.CutPrefix(h, "*"); ok {
				m, key = t.wildcard, suffix
			}
			if m[key] == nil {
				m[key] = &hostTable[T]{}
			}
			m[key].insert(rt, pl.segs)
		}
	}
	if errs != nil {
		return nil, errors.Join(errs...)
	}
	for _, m := range []map[string]*hostTable[T]{t.exact, t.wildcard} {
		for _, ht := range m {
			ht.root.finish()
		}
	}
	if t.anyHost != nil {
		t.anyHost.root.finish()
	}
	return t, nil
}

func (ht *hostTable[T]) insert(rt *route[T], segs []segment) {
	if rt.re != nil {
		ht.regexes = append(ht.regexes, rt)
		return
	}
	ht.root.insert(rt, segs)
}

// HeaderNames lists the request headers (canonical names) that some route's
// header matchers read: with the host, path, method and query, what a route
// choice depends on. The slice is the table's own; do not modify it.
func (t *Table[T]) HeaderNames() []string { return t.headers }

// Match finds the route for a request. f holds the scheme and API version
// as the caller judged them; host is the request's host,
// lowercased, without port and without a trailing dot; path is its
// canonical path (Canonicalize); r supplies the method, headers and
// query. Captured parameters are
// appended to (*params)[:0], so a reused slice with capacity makes a match
// allocation-free (regex routes with groups and query matchers aside).
// On MethodNotAllowed, allow lists the methods that would have matched and
// v is the first route that failed only on its method (its params are not
// captured), so a caller can let that route's filters answer a CORS
// preflight.
func (t *Table[T]) Match(r *http.Request, f Facts, host, path string, params *Params) (v T, res Result, allow []string) {
	if params == nil {
		params = new(Params)
	}
	*params = (*params)[:0]
	if path == "" || path[0] != '/' {
		return v, NotFound, nil
	}
	s := search[T]{r: r, facts: f, path: path, params: params}
	if ht := t.exact[host]; ht != nil {
		if rt := s.find(ht); rt != nil {
			return s.found(rt)
		}
	}
	if len(t.wildcard) > 0 {
		// Each dot after the first label starts a suffix, longest first.
		for i := 1; i < len(host); i++ {
			if host[i] != '.' {
				continue
			}
			if ht := t.wildcard[host[i:]]; ht != nil {
				if rt := s.find(ht); rt != nil {
					return s.found(rt)
				}
			}
		}
	}
	if t.anyHost != nil {
		if rt := s.find(t.anyHost); rt != nil {
			return s.found(rt)
		}
	}
	if s.allow != nil {
		slices.Sort(s.allow)
		return s.missed.value, MethodNotAllowed, slices.Compact(s.allow)
	}
	return v, NotFound, nil
}
