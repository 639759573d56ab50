package config

import (
	"errors"
	"math"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Metadata is a route's metadata block, in the shape of Envoy's
// core.v3.Metadata so that a filter written for Envoy finds it at the same
// property paths (route_metadata.filter_metadata.<namespace>.<key>):
//
//	metadata:
//	  filter_metadata:
//	    envoy.filters.http.wasm: { tier: gold, weight: 3, beta: true }
//
// Each namespace holds a JSON-like object, as a google.protobuf.Struct does:
// its values are strings, numbers (float64, as Struct stores every number),
// booleans, null (nil), lists ([]any) and objects (map[string]any).
// typed_filter_metadata (protobuf Any values) has no meaning without a
// protobuf registry and is refused.
type Metadata struct {
	FilterMetadata map[string]map[string]any
}

// UnmarshalNode reads the block, with an error at the node of every value
// that is not JSON-like.
func (m *Metadata) UnmarshalNode(n *yaml.Node) error {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return errors.New("metadata must be a mapping with filter_metadata: {namespace: {key: value}}, got " + describe(n))
	}
	ps, problems := mappingPairs(n)
	var errs []error
	for _, p := range problems {
		errs = append(errs, FieldErr(p.key, "%s", p.msg))
	}
	conv := &metaConverter{budget: maxMetadataValues}
	for _, p := range ps {
		if p.key.Value != "filter_metadata" {
			errs = append(errs, FieldErr(JoinKey("", p.key.Value), "unknown field %q; valid fields: filter_metadata", p.key.Value))
			continue
		}
		if isNull(p.value) {
			continue
		}
		if p.value.Kind != yaml.MappingNode {
			errs = append(errs, FieldErr("filter_metadata", "expected a mapping of namespace to {key: value}, got %s", describe(p.value)))
			continue
		}
		nps, nproblems := mappingPairs(p.value)
		for _, q := range nproblems {
			errs = append(errs, FieldErr(JoinKey("filter_metadata", q.key), "%s", q.msg))
		}
		for _, q := range nps {
			field := JoinKey("filter_metadata", q.key.Value)
			v, err := conv.value(resolveAlias(q.value), field, 0)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			obj, ok := v.(map[string]any)
			if !ok {
				if v == nil {
					obj = map[string]any{}
				} else {
					errs = append(errs, FieldErr(field, "a namespace holds a mapping of keys to values, got %s", describe(q.value)))
					continue
				}
			}
			if m.FilterMetadata == nil {
				m.FilterMetadata = map[string]map[string]any{}
			}
			m.FilterMetadata[q.key.Value] = obj
		}
	}
	return errors.Join(errs...)
}

// maxMetadataDepth bounds nesting, as protobuf's own parsers do (100);
// maxMetadataValues bounds the values a block may expand to through
// aliases, as Decode bounds the whole document.
const (
	maxMetadataDepth  = 100
	maxMetadataValues = 1 << 16
)

type metaConverter struct{ budget int }

// value converts a YAML value to its google.protobuf.Value meaning.
func (c *metaConverter) value(n *yaml.Node, field string, depth int) (any, error) {
	if depth > maxMetadataDepth {
		return nil, FieldErr(field, "metadata nests deeper than %d levels", maxMetadataDepth)
	}
	if c.budget--; c.budget < 0 {
		return nil, FieldErr(field, "metadata expands to more than %d values", maxMetadataValues)
	}
	if isNull(n) {
		return nil, nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		ps, problems := mappingPairs(n)
		var errs []error
		for _, p := range problems {
			errs = append(errs, FieldErr(JoinKey(field, p.key), "%s", p.msg))
		}
		obj := make(map[string]any, len(ps))
		for _, p := range ps {
			if p.key.Kind != yaml.ScalarNode {
				errs = append(errs, FieldErr(field, "keys must be strings, got %s", describe(p.key)))
				continue
			}
			v, err := c.value(resolveAlias(p.value), JoinKey(field, p.key.Value), depth+1)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			obj[p.key.Value] = v
		}
		return obj, errors.Join(errs...)
	case yaml.SequenceNode:
		list := make([]any, 0, len(n.Content))
		var errs []error
		for i, e := range n.Content {
			v, err := c.value(resolveAlias(e), JoinIndex(field, i), depth+1)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			list = append(list, v)
		}
		return list, errors.Join(errs...)
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!bool":
			b, err := strconv.ParseBool(n.Value)
			if err != nil {
				var v bool
				if n.Decode(&v) != nil {
					return nil, FieldErr(field, "expected a boolean, got %s", describe(n))
				}
				return v, nil
			}
			return b, nil
		case "!!int":
			var i int64
			if err := n.Decode(&i); err != nil {
				return nil, FieldErr(field, "%s is not a number metadata can hold; quote it to keep it as a string", describe(n))
			}
			if i > 1<<53 || i < -(1<<53) {
				return nil, FieldErr(field, "%d does not fit a metadata number (a double) exactly; quote it to keep it as a string", i)
			}
			return float64(i), nil
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, FieldErr(field, "%s is not a finite number; quote it to keep it as a string", describe(n))
			}
			return f, nil
		}
		return n.Value, nil // strings, and timestamps as written (as JSON would carry them)
	}
	return nil, FieldErr(field, "unexpected %s", describe(n))
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	return followAlias(n)
}

// JSONSchema: filter_metadata, namespaces of JSON-like objects.
func (*Metadata) JSONSchema() map[string]any {
	return map[string]any{
		"type": "object",
		"properties": map[string]any{
			"filter_metadata": map[string]any{
				"type":                 []any{"object", "null"},
				"additionalProperties": map[string]any{"type": []any{"object", "null"}},
				"description":          "Namespace (e.g. envoy.filters.http.wasm) to a JSON-like object, read by filters as route_metadata.filter_metadata.NAMESPACE.",
			},
		},
		"additionalProperties": false,
	}
}
