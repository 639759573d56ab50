package config

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

const filterEntryShape = `a filter entry is a single-key map naming the filter, like "- headers: {...}" or "- chain: auth"`

// UnmarshalNode reads one filters-list entry. The value is kept as a node
// for the filter's own package to decode; a bare "- cors:" gets an empty
// mapping, so every filter sees a block, never nil.
func (f *FilterSpec) UnmarshalNode(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("%s; got %s", filterEntryShape, describe(n))
	}
	ps, _ := mappingPairs(n)
	if len(ps) == 0 {
		return fmt.Errorf("%s; got an empty mapping", filterEntryShape)
	}
	if len(ps) > 1 {
		keys := make([]string, 0, len(ps))
		for _, p := range ps {
			keys = append(keys, p.key.Value)
		}
		return fmt.Errorf("%s; got %d keys (%s): put each filter in its own list entry",
			filterEntryShape, len(ps), strings.Join(keys, ", "))
	}
	k, v := ps[0].key, followAlias(ps[0].value)
	if k.Kind != yaml.ScalarNode || k.Value == "" {
		return fmt.Errorf("%s; got key %s", filterEntryShape, describe(k))
	}
	if isNull(v) {
		v = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: v.Line, Column: v.Column}
	}
	*f = FilterSpec{Name: k.Value, Node: v, Line: k.Line}
	return nil
}

var _ NodeUnmarshaler = (*FilterSpec)(nil)
