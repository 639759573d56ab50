package router

import (
	"cmp"
	"slices"
	"strings"
)

// node is one position in a host's segment tree: the path up to here is
// fixed by the edges taken from the root. Lookup cost depends on the path's
// depth and the tree's shape, not on how many routes there are.
type node[T any] struct {
	keys  []string   // static children's segments; nil once index is built and finished
	kids  []*node[T] // static children, parallel to keys
	index map[string]*node[T]
	param *node[T] // the one {name} child; names are per route

	exact []*route[T] // routes whose whole path ends here
	below []*route[T] // prefix and catch-all routes anchored here

	// hasExact and hasBelow say whether the subtree holds such routes at
	// all, so a walk never descends where it cannot find anything.
	hasExact, hasBelow bool
}

// linearLimit is how many static children are searched by comparing
// strings before a map is cheaper.
const linearLimit = 8

func (n *node[T]) child(seg string) *node[T] {
	if n.index != nil {
		return n.index[seg]
	}
	for i, k := range n.keys {
		if k == seg {
			return n.kids[i]
		}
	}
	return nil
}

// addChild returns the static child for seg, adding it. Children are kept
// in insertion order (a lookup never needs them sorted) and indexed as soon
// as there are more than linearLimit: inserting into a sorted list was
// quadratic in a node's children, and an API of 10,000 routes under one
// prefix has that many.
func (n *node[T]) addChild(seg string) *node[T] {
	if c := n.child(seg); c != nil {
		return c
	}
	c := &node[T]{}
	n.keys = append(n.keys, seg)
	n.kids = append(n.kids, c)
	switch {
	case n.index != nil:
		n.index[seg] = c
	case len(n.keys) > linearLimit:
		n.index = make(map[string]*node[T], 2*len(n.keys))
		for i, k := range n.keys {
			n.index[k] = n.kids[i]
		}
	}
	return c
}

// insert places rt at the node its path (segs, or its prefix when segs
// is nil) leads to.
func (n *node[T]) insert(rt *route[T], segs []segment) {
	if segs == nil { // a prefix
		p := strings.TrimSuffix(rt.prefix, "/")
		if p != "" {
			for _, seg := range strings.Split(p[1:], "/") {
				n = n.addChild(seg)
			}
		}
		n.below = append(n.below, rt)
		return
	}
	for _, s := range segs {
		switch {
		case s.catchAll:
			n.below = append(n.below, rt)
			return
		case s.param:
			if n.param == nil {
				n.param = &node[T]{}
			}
			n = n.param
		default:
			n = n.addChild(s.text)
		}
	}
	n.exact = append(n.exact, rt)
}

// finish orders each node's routes by priority, indexes wide nodes and sets
// the subtree flags. It runs once, after every insert.
func (n *node[T]) finish() {
	slices.SortStableFunc(n.exact, byConditions)
	slices.SortStableFunc(n.below, func(a, b *route[T]) int {
		// A prefix ending in "/" is the longer one: it goes first.
		if a.needSlash != b.needSlash {
			if a.needSlash {
				return -1
			}
			return 1
		}
		return byConditions(a, b)
	})
	n.hasExact, n.hasBelow = len(n.exact) > 0, len(n.below) > 0
	for _, c := range n.kids {
		c.finish()
		n.hasExact = n.hasExact || c.hasExact
		n.hasBelow = n.hasBelow || c.hasBelow
	}
	if n.param != nil {
		n.param.finish()
		n.hasExact = n.hasExact || n.param.hasExact
		n.hasBelow = n.hasBelow || n.param.hasBelow
	}
	if n.index != nil { // lookups use the index alone
		n.keys = nil
	}
}

// byConditions orders routes on the same path: more conditions first, then
// config order.
func byConditions[T any](a, b *route[T]) int {
	if c := cmp.Compare(b.conditions(), a.conditions()); c != 0 {
		return c
	}
	return cmp.Compare(a.index, b.index)
}

// nextSegment splits rest ("/seg/more" or "/seg") into its first segment
// and what follows it ("/more" or "").
func nextSegment(rest string) (seg, tail string) {
	rest = rest[1:]
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		return rest[:i], rest[i:]
	}
	return rest, ""
}
