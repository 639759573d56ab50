package portal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxDocument bounds an OpenAPI document read from a file: the portal
// keeps every document in memory, parsed and rendered.
const maxDocument = 8 << 20

// Document is one OpenAPI document, read and checked: its JSON as served at
// PREFIX/openapi/NAME.json, and the decoded tree the page is built from.
type Document struct {
	JSON []byte
	root map[string]any
}

// LoadFile reads an OpenAPI 3.0/3.1 document, YAML or JSON. Its errors name
// the document's own line where there is one ("api.yaml:12: ...").
func LoadFile(path string) (*Document, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the OpenAPI document: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxDocument+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read the OpenAPI document: %w", err)
	}
	if len(data) > maxDocument {
		return nil, fmt.Errorf("%s: larger than %d MiB, the most an OpenAPI document may be", path, maxDocument>>20)
	}
	return Parse(path, data)
}

// Parse reads a document from data (YAML, or JSON, which is YAML); name is
// how errors call it.
func Parse(name string, data []byte) (*Document, error) {
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		return nil, fmt.Errorf("%s: not YAML or JSON: %v", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if n.Kind != yaml.DocumentNode || len(n.Content) == 0 {
		return nil, fmt.Errorf("%s: empty document; want an OpenAPI 3.0 or 3.1 document", name)
	}
	conv := converter{name: name}
	v, err := conv.value(n.Content[0], 0)
	if err != nil {
		return nil, err
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s:%d: the document is not a mapping; want an OpenAPI document (openapi: 3.1.0, info, paths)", name, n.Content[0].Line)
	}
	top := n.Content[0]
	if err := checkDocument(name, top, root); err != nil {
		return nil, err
	}
	js, err := json.Marshal(root)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return &Document{JSON: js, root: root}, nil
}

// checkDocument refuses what is not an OpenAPI 3.0/3.1 document the portal can
// render, and local $refs that point nowhere.
func checkDocument(name string, top *yaml.Node, root map[string]any) error {
	line := func(path ...string) int { return lineOf(top, path...) }
	ver, _ := root["openapi"].(string)
	switch {
	case ver == "":
		if _, ok := root["swagger"]; ok {
			return fmt.Errorf("%s:%d: a Swagger 2.0 document; the portal reads OpenAPI 3.0 and 3.1 (convert it, e.g. with swagger2openapi)", name, line("swagger"))
		}
		return fmt.Errorf("%s:%d: no openapi field; want openapi: 3.0.x or 3.1.x", name, top.Line)
	case !strings.HasPrefix(ver, "3.0") && !strings.HasPrefix(ver, "3.1"):
		return fmt.Errorf("%s:%d: openapi: %q; the portal reads 3.0.x and 3.1.x", name, line("openapi"), ver)
	}
	info, ok := root["info"].(map[string]any)
	if !ok {
		return fmt.Errorf("%s:%d: info is missing or not a mapping; want info: {title: ..., version: ...}", name, top.Line)
	}
	if t, _ := info["title"].(string); strings.TrimSpace(t) == "" {
		return fmt.Errorf("%s:%d: info.title is missing; the portal lists the API under it", name, line("info"))
	}
	if p, ok := root["paths"]; ok && p != nil {
		if _, ok := p.(map[string]any); !ok {
			return fmt.Errorf("%s:%d: paths is not a mapping", name, line("paths"))
		}
	}
	var bad error
	walkRefs(root, func(ref string, at []string) bool {
		if !strings.HasPrefix(ref, "#") {
			bad = fmt.Errorf("%s:%d: $ref %q points outside the document; the portal reads one self-contained document (bundle it first, e.g. with redocly bundle)", name, line(at...), ref)
			return false
		}
		if _, ok := pointer(root, ref); !ok {
			bad = fmt.Errorf("%s:%d: $ref %q points to nothing in the document", name, line(at...), ref)
			return false
		}
		return true
	}, nil)
	return bad
}

// walkRefs calls fn with every $ref in v and its path; fn returns false
// to stop.
func walkRefs(v any, fn func(ref string, at []string) bool, at []string) bool {
	switch t := v.(type) {
	case map[string]any:
		if ref, ok := t["$ref"].(string); ok {
			if !fn(ref, append(at, "$ref")) {
				return false
			}
		}
		for k, c := range t {
			if !walkRefs(c, fn, append(at[:len(at):len(at)], k)) {
				return false
			}
		}
	case []any:
		for i, c := range t {
			if !walkRefs(c, fn, append(at[:len(at):len(at)], strconv.Itoa(i))) {
				return false
			}
		}
	}
	return true
}

// pointer resolves a local JSON pointer ("#/components/schemas/Pet",
// RFC 6901 escapes included).
func pointer(root map[string]any, ref string) (any, bool) {
	p, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, false
	}
	if p == "" {
		return root, true
	}
	if !strings.HasPrefix(p, "/") {
		return nil, false
	}
	var cur any = root
	for _, tok := range strings.Split(p[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(unescapePercent(tok), "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			if cur, ok = c[tok]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// unescapePercent undoes the URI escaping a $ref's fragment may carry
// ("#/paths/~1pets~1%7Bid%7D").
func unescapePercent(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b bytes.Buffer
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(n))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// lineOf finds the line of the node at path under top (the deepest part
// of the path that exists).
func lineOf(top *yaml.Node, path ...string) int {
	n, line := top, top.Line
	for _, key := range path {
		switch n.Kind {
		case yaml.MappingNode:
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == key {
					line, n, found = n.Content[i].Line, n.Content[i+1], true
					break
				}
			}
			if !found {
				return line
			}
		case yaml.SequenceNode:
			i, err := strconv.Atoi(key)
			if err != nil || i >= len(n.Content) {
				return line
			}
			n = n.Content[i]
			line = n.Line
		default:
			return line
		}
	}
	return line
}

// converter turns a YAML tree into JSON values: mapping keys are strings
// whatever they look like (responses' 200 is "200"), and aliases are
// expanded within a bound, against alias bombs.
type converter struct {
	name  string
	nodes int
}

const maxNodes = 1 << 20

func (c *converter) value(n *yaml.Node, depth int) (any, error) {
	c.nodes++
	if c.nodes > maxNodes || depth > 200 {
		return nil, fmt.Errorf("%s:%d: the document is too deeply nested or expands too far (aliases)", c.name, n.Line)
	}
	switch n.Kind {
	case yaml.AliasNode:
		return c.value(n.Alias, depth+1)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Tag == "!!merge" {
				merged, err := c.value(v, depth+1)
				if err != nil {
					return nil, err
				}
				if mm, ok := merged.(map[string]any); ok {
					for mk, mv := range mm {
						if _, set := m[mk]; !set {
							m[mk] = mv
						}
					}
				}
				continue
			}
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("%s:%d: a mapping key that is not a scalar", c.name, k.Line)
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("%s:%d: %q is given twice", c.name, k.Line, k.Value)
			}
			val, err := c.value(v, depth+1)
			if err != nil {
				return nil, err
			}
			m[k.Value] = val
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, e := range n.Content {
			val, err := c.value(e, depth+1)
			if err != nil {
				return nil, err
			}
			s = append(s, val)
		}
		return s, nil
	case yaml.ScalarNode:
		return c.scalar(n)
	}
	return nil, fmt.Errorf("%s:%d: unexpected YAML node", c.name, n.Line)
}

func (c *converter) scalar(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", c.name, n.Line, err)
		}
		return b, nil
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return i, nil
		}
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", c.name, n.Line, err)
		}
		return f, nil
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", c.name, n.Line, err)
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return n.Value, nil // JSON has no such numbers
		}
		return f, nil
	}
	return n.Value, nil // strings, timestamps and binary stay as written
}
