package router

import (
	"net/http"
	"net/url"
	"strings"
)

// search is the state of one Match call. It lives on the caller's stack.
type search[T any] struct {
	r      *http.Request
	facts  Facts
	path   string
	params *Params
	query  url.Values // parsed on first use by a query matcher
	parsed bool
	allow  []string  // methods of routes that failed only on the method
	missed *route[T] // the first route that failed only on the method
}

// find runs the three path kinds of one host, in priority order.
func (s *search[T]) find(ht *hostTable[T]) *route[T] {
	if ht.root.hasExact {
		if rt := s.exact(&ht.root, s.path); rt != nil {
			return rt
		}
	}
	for _, rt := range ht.regexes {
		if rt := s.regex(rt); rt != nil {
			return rt
		}
	}
	if ht.root.hasBelow {
		return s.below(&ht.root, s.path)
	}
	return nil
}

// found names the captured values after the route that won.
func (s *search[T]) found(rt *route[T]) (T, Result, []string) {
	ps := *s.params
	for i, name := range rt.names {
		ps[i].Name = name
	}
	return rt.value, Found, nil
}

// exact walks to the node where the whole path ends, static child before
// param child, backtracking on failure. rest is "" or starts with "/".
func (s *search[T]) exact(n *node[T], rest string) *route[T] {
	if rest == "" {
		return s.first(n.exact)
	}
	seg, tail := nextSegment(rest)
	if c := n.child(seg); c != nil && c.hasExact {
		if rt := s.exact(c, tail); rt != nil {
			return rt
		}
	}
	if p := n.param; p != nil && p.hasExact && seg != "" {
		mark := len(*s.params)
		*s.params = append(*s.params, Param{Value: seg})
		if rt := s.exact(p, tail); rt != nil {
			return rt
		}
		*s.params = (*s.params)[:mark]
	}
	return nil
}

// below finds the deepest prefix or catch-all on the path, trying deeper
// nodes (static before param) before the routes anchored at n.
func (s *search[T]) below(n *node[T], rest string) *route[T] {
	if rest != "" {
		seg, tail := nextSegment(rest)
		if c := n.child(seg); c != nil && c.hasBelow {
			if rt := s.below(c, tail); rt != nil {
				return rt
			}
		}
		if p := n.param; p != nil && p.hasBelow && seg != "" {
			mark := len(*s.params)
			*s.params = append(*s.params, Param{Value: seg})
			if rt := s.below(p, tail); rt != nil {
				return rt
			}
			*s.params = (*s.params)[:mark]
		}
	}
	for _, rt := range n.below {
		if rt.needSlash && rest == "" || !s.accept(rt) {
			continue
		}
		if rt.catchAll {
			*s.params = append(*s.params, Param{Value: strings.TrimPrefix(rest, "/")})
		}
		return rt
	}
	return nil
}

// regex tries one regex route against the whole path.
func (s *search[T]) regex(rt *route[T]) *route[T] {
	if rt.groups == nil {
		if !rt.re.MatchString(s.path) || !s.accept(rt) {
			return nil
		}
		return rt
	}
	loc := rt.re.FindStringSubmatchIndex(s.path)
	if loc == nil || !s.accept(rt) {
		return nil
	}
	for _, g := range rt.groups {
		var v string
		if loc[2*g] >= 0 {
			v = s.path[loc[2*g]:loc[2*g+1]]
		}
		*s.params = append(*s.params, Param{Value: v})
	}
	return rt
}

func (s *search[T]) first(routes []*route[T]) *route[T] {
	for _, rt := range routes {
		if s.accept(rt) {
			return rt
		}
	}
	return nil
}

// accept checks a route's conditions beyond its path. A route that fails
// only on the method lends its methods to a possible 405's Allow.
func (s *search[T]) accept(rt *route[T]) bool {
	if rt.scheme != "" && rt.scheme != s.facts.Scheme {
		return false
	}
	if rt.version != "" && rt.version != s.facts.Version {
		return false
	}
	for i := range rt.headers {
		m := &rt.headers[i]
		if !m.matchValues(s.r.Header[m.name]) {
			return false
		}
	}
	if len(rt.query) > 0 {
		if !s.parsed {
			// Malformed pairs are skipped, as the upstream's parser would.
			s.query, _ = url.ParseQuery(s.r.URL.RawQuery)
			s.parsed = true
		}
		for i := range rt.query {
			m := &rt.query[i]
			if !m.matchValues(s.query[m.name]) {
				return false
			}
		}
	}
	if !rt.allows(s.r.Method) {
		s.allow = append(s.allow, rt.methods...)
		if s.missed == nil {
			s.missed = rt
		}
		return false
	}
	return true
}
