package config

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// pair is one mapping entry.
type pair struct{ key, value *yaml.Node }

// nodeProblem is a malformed mapping entry found while listing pairs.
type nodeProblem struct {
	at  *yaml.Node
	key string // the key it concerns, "" for the mapping itself
	msg string
}

// mappingPairs lists a mapping's entries with YAML merge keys applied
// ("<<: *base" or "<<: [*a, *b]"): the mapping's own keys first, then merged
// keys it does not set itself, earlier merge sources winning, as the YAML
// merge spec says. Keys are aliases-resolved. Duplicate own keys and merge
// values that are not mappings are returned as problems.
func mappingPairs(n *yaml.Node) ([]pair, []nodeProblem) {
	var (
		out      = make([]pair, 0, len(n.Content)/2)
		problems []nodeProblem
		merges   []*yaml.Node
		seen     map[string]*yaml.Node // only for many keys: see findKey
	)
	if len(n.Content)/2 > smallMapping {
		seen = make(map[string]*yaml.Node, len(n.Content)/2)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := followAlias(n.Content[i]), n.Content[i+1]
		if isMergeKey(k) {
			merges = append(merges, v)
			continue
		}
		if k.Kind == yaml.ScalarNode {
			first := seen[k.Value]
			if seen == nil {
				first = findKey(out, k.Value)
			}
			if first != nil {
				problems = append(problems, nodeProblem{k, k.Value,
					fmt.Sprintf("duplicate key %q (first set at line %d); keep one", k.Value, first.Line)})
				continue
			}
			if seen != nil {
				seen[k.Value] = k
			}
		}
		out = append(out, pair{k, v})
	}
	if len(merges) == 0 {
		return out, problems
	}
	if seen == nil { // merged keys may be many: a set from here on
		seen = make(map[string]*yaml.Node, len(out))
		for _, p := range out {
			if p.key.Kind == yaml.ScalarNode {
				seen[p.key.Value] = p.key
			}
		}
	}
	// A source merged twice adds nothing new, so each is visited once; that
	// also ends self-referencing merges and exponential merge chains.
	done := map[*yaml.Node]bool{}
	var merge func(src *yaml.Node, inList bool)
	merge = func(src *yaml.Node, inList bool) {
		src = followAlias(src)
		if done[src] {
			return
		}
		done[src] = true
		switch {
		case src.Kind == yaml.SequenceNode && !inList:
			for _, item := range src.Content {
				merge(item, true)
			}
		case src.Kind == yaml.MappingNode:
			var nested []*yaml.Node
			for i := 0; i+1 < len(src.Content); i += 2 {
				k, v := followAlias(src.Content[i]), src.Content[i+1]
				if isMergeKey(k) {
					nested = append(nested, v)
					continue
				}
				if k.Kind != yaml.ScalarNode || seen[k.Value] != nil {
					continue
				}
				seen[k.Value] = k
				out = append(out, pair{k, v})
			}
			for _, v := range nested {
				merge(v, false)
			}
		default:
			problems = append(problems, nodeProblem{src, "<<",
				"a merge key (<<) takes a mapping or a list of mappings, like <<: *defaults"})
		}
	}
	for _, m := range merges {
		merge(m, false)
	}
	return out, problems
}

// smallMapping is the most keys a mapping may have for its duplicates to
// be found by findKey's linear search rather than with a set.
const smallMapping = 16

// findKey returns the key of ps that is the scalar k, or nil. A linear
// search: config mappings hold a few keys, and a set per mapping cost more
// than the search (a 10,000-route config has some 100,000 mappings). A
// mapping with more than smallMapping keys (a map of upstreams) gets a set.
func findKey(ps []pair, k string) *yaml.Node {
	for _, p := range ps {
		if p.key.Kind == yaml.ScalarNode && p.key.Value == k {
			return p.key
		}
	}
	return nil
}

func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge"
}

// followAlias returns the node an alias stands for (n itself otherwise).
// yaml.v3 never produces an alias of an alias, so one step is enough.
func followAlias(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

// NodeKey is a digest of what n says: its kind, resolved tag and text, and
// its children's; not its position, style or comments. Two nodes with
// equal keys decode to equal values, so what was built from one can stand
// for the other (filter.Shareable). A node that holds an alias has no key
// (ok is false): an alias can make a block's size exponential in its text
// or make it a cycle, and Decode is the place that bounds those.
func NodeKey(n *yaml.Node) (key [sha256.Size]byte, ok bool) {
	var buf []byte
	var walk func(n *yaml.Node) bool
	walk = func(n *yaml.Node) bool {
		if n.Kind == yaml.AliasNode {
			return false
		}
		tag := ""
		if n.Kind == yaml.ScalarNode { // a collection's tag follows from its kind
			tag = n.ShortTag()
		}
		buf = binary.AppendUvarint(buf, uint64(n.Kind))
		buf = binary.AppendUvarint(buf, uint64(len(tag)))
		buf = append(buf, tag...)
		buf = binary.AppendUvarint(buf, uint64(len(n.Value)))
		buf = append(buf, n.Value...)
		buf = binary.AppendUvarint(buf, uint64(len(n.Content)))
		for _, c := range n.Content {
			if !walk(c) {
				return false
			}
		}
		return true
	}
	if n == nil || !walk(n) {
		return key, false
	}
	return sha256.Sum256(buf), true // one hash of the whole encoding: a block is small
}
