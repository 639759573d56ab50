package portal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Schema is a JSON Schema as the page shows it: a tree whose local $refs
// are resolved, 3.0's nullable folded into 3.1's type lists, and allOf
// merged where its parts are objects.
type Schema struct {
	Name        string   // the property's name, "" at the root and for items
	Ref         string   // the component it came from ("Order"), if any
	Types       []string // "object", "string", "null"... (3.1 lists; 3.0 nullable adds "null")
	Format      string
	Title       string
	Description string
	Required    bool // as a property of its parent
	ReadOnly    bool
	WriteOnly   bool
	Deprecated  bool
	Enum        []string // JSON of each value
	Default     string   // JSON
	Example     string   // JSON
	Constraints []string // "≥ 1", "≤ 100 items", "pattern ^[a-z]+$"
	Props       []*Schema
	Items       *Schema
	Additional  *Schema // additionalProperties given as a schema
	// Variants of a oneOf, anyOf or an allOf that could not be merged.
	VariantKind string // "one of", "any of", "all of"
	Variants    []*Schema
	Not         *Schema
	// Circular: the schema refers back to one of its ancestors, shown by
	// name instead of again.
	Circular bool
}

// TypeLabel is what the page prints for the schema's type.
func (s *Schema) TypeLabel() string {
	var b strings.Builder
	types := s.Types
	if len(types) == 0 {
		switch {
		case len(s.Props) > 0:
			types = []string{"object"}
		case s.Items != nil:
			types = []string{"array"}
		case len(s.Variants) > 0:
			return s.VariantKind
		case s.Ref != "":
			return s.Ref
		default:
			return "any"
		}
	}
	for i, t := range types {
		if i > 0 {
			b.WriteString(" | ")
		}
		switch {
		case t == "array" && s.Items != nil:
			b.WriteString(s.Items.shortType())
			b.WriteString("[]")
		case t == "object" && s.Ref != "" && s.Ref != s.Name:
			b.WriteString(s.Ref)
		default:
			b.WriteString(t)
		}
	}
	if s.Format != "" {
		b.WriteString(" (" + s.Format + ")")
	}
	return b.String()
}

func (s *Schema) shortType() string {
	if s.Ref != "" {
		return s.Ref
	}
	if len(s.Types) == 1 {
		return s.Types[0]
	}
	return "any"
}

// HasChildren reports whether the page can unfold the schema.
func (s *Schema) HasChildren() bool {
	return len(s.Props) > 0 || len(s.Variants) > 0 || s.Additional != nil || s.Not != nil ||
		(s.Items != nil && s.Items.HasChildren())
}

// schemaBuilder resolves schemas against one document.
type schemaBuilder struct {
	root  map[string]any
	nodes int
	// request: synthesized examples leave out readOnly properties (else
	// writeOnly ones, for responses).
	request bool // built so far; a page has a budget, against documents that unfold exponentially
}

const (
	maxSchemaDepth = 16
	maxSchemaNodes = 20000
)

// schema builds the tree of raw. stack holds the $refs being unfolded,
// to notice cycles.
func (b *schemaBuilder) schema(raw any, stack []string) *Schema {
	m, _ := raw.(map[string]any)
	s := &Schema{}
	if m == nil { // a boolean schema (3.1): true allows anything, false nothing
		if raw == false {
			s.Constraints = append(s.Constraints, "nothing is valid")
		}
		return s
	}
	b.nodes++
	if ref, ok := m["$ref"].(string); ok {
		name := refName(ref)
		if slices.Contains(stack, ref) || len(stack) >= maxSchemaDepth || b.nodes > maxSchemaNodes {
			return &Schema{Ref: name, Circular: true, Description: str(m["description"])}
		}
		target, _ := pointer(b.root, ref)
		s = b.schema(target, append(stack, ref))
		s.Ref = name
		// 3.1 allows siblings of $ref; a description there describes this use.
		if d := str(m["description"]); d != "" {
			s.Description = d
		}
		return s
	}
	if len(stack) >= maxSchemaDepth || b.nodes > maxSchemaNodes {
		return &Schema{Circular: true, Description: "(shown to a depth of 16)"}
	}
	s.Title = str(m["title"])
	s.Description = str(m["description"])
	s.Format = str(m["format"])
	s.ReadOnly = m["readOnly"] == true
	s.WriteOnly = m["writeOnly"] == true
	s.Deprecated = m["deprecated"] == true
	switch t := m["type"].(type) {
	case string:
		s.Types = []string{t}
	case []any:
		for _, e := range t {
			if e, ok := e.(string); ok {
				s.Types = append(s.Types, e)
			}
		}
	}
	if m["nullable"] == true && !slices.Contains(s.Types, "null") { // 3.0
		s.Types = append(s.Types, "null")
	}
	if e, ok := m["enum"].([]any); ok {
		for _, v := range e {
			s.Enum = append(s.Enum, compactJSON(v))
		}
	}
	if c, ok := m["const"]; ok {
		s.Enum = []string{compactJSON(c)}
	}
	if d, ok := m["default"]; ok {
		s.Default = compactJSON(d)
	}
	if ex, ok := exampleOf(m); ok {
		s.Example = compactJSON(ex)
	}
	s.Constraints = constraints(m)

	required := map[string]bool{}
	for _, r := range list(m["required"]) {
		if r, ok := r.(string); ok {
			required[r] = true
		}
	}
	b.properties(s, m, required, stack)
	if items, ok := m["items"]; ok {
		if arr, ok := items.([]any); ok { // 3.0-era tuple form; 3.1 has prefixItems
			s.VariantKind = "items in order"
			for _, it := range arr {
				s.Variants = append(s.Variants, b.schema(it, stack))
			}
		} else {
			s.Items = b.schema(items, stack)
		}
	}
	if pi := list(m["prefixItems"]); len(pi) > 0 {
		s.VariantKind = "items in order"
		for _, it := range pi {
			s.Variants = append(s.Variants, b.schema(it, stack))
		}
	}
	if ap, ok := m["additionalProperties"].(map[string]any); ok {
		s.Additional = b.schema(ap, stack)
		s.Additional.Name = "additional properties"
	} else if m["additionalProperties"] == false {
		s.Constraints = append(s.Constraints, "no other properties")
	}
	if not, ok := m["not"]; ok {
		s.Not = b.schema(not, stack)
	}

	if all := list(m["allOf"]); len(all) > 0 {
		parts := make([]*Schema, 0, len(all))
		for _, a := range all {
			parts = append(parts, b.schema(a, stack))
		}
		if mergeable(parts) {
			for _, p := range parts {
				mergeInto(s, p)
			}
		} else if len(s.Variants) == 0 {
			s.VariantKind, s.Variants = "all of", parts
		}
	}
	for _, kind := range []struct{ key, label string }{{"oneOf", "one of"}, {"anyOf", "any of"}} {
		if alts := list(m[kind.key]); len(alts) > 0 && len(s.Variants) == 0 {
			s.VariantKind = kind.label
			for i, a := range alts {
				v := b.schema(a, stack)
				if v.Name == "" {
					v.Name = variantName(v, i)
				}
				s.Variants = append(s.Variants, v)
			}
		}
	}
	return s
}

func (b *schemaBuilder) properties(s *Schema, m map[string]any, required map[string]bool, stack []string) {
	props, _ := m["properties"].(map[string]any)
	names := make([]string, 0, len(props))
	for name := range props {
		names = append(names, name)
	}
	// Required first, then by name: a reader looks for what they must send.
	sort.Slice(names, func(i, j int) bool {
		if required[names[i]] != required[names[j]] {
			return required[names[i]]
		}
		return names[i] < names[j]
	})
	for _, name := range names {
		p := b.schema(props[name], stack)
		p.Name, p.Required = name, required[name]
		s.Props = append(s.Props, p)
	}
}

// mergeable: allOf parts that are all objects (or bare constraints) fold
// into one object, which reads better than "all of" three boxes.
func mergeable(parts []*Schema) bool {
	for _, p := range parts {
		if p.Circular || len(p.Variants) > 0 || p.Items != nil {
			return false
		}
		for _, t := range p.Types {
			if t != "object" {
				return false
			}
		}
	}
	return true
}

func mergeInto(dst, src *Schema) {
	if len(dst.Types) == 0 {
		dst.Types = src.Types
	}
	if dst.Description == "" {
		dst.Description = src.Description
	}
	if dst.Example == "" {
		dst.Example = src.Example
	}
	dst.Constraints = append(dst.Constraints, src.Constraints...)
	for _, p := range src.Props {
		if i := slices.IndexFunc(dst.Props, func(q *Schema) bool { return q.Name == p.Name }); i >= 0 {
			dst.Props[i].Required = dst.Props[i].Required || p.Required
			continue
		}
		dst.Props = append(dst.Props, p)
	}
	if dst.Additional == nil {
		dst.Additional = src.Additional
	}
}

func variantName(v *Schema, i int) string {
	switch {
	case v.Ref != "":
		return v.Ref
	case v.Title != "":
		return v.Title
	}
	return fmt.Sprintf("option %d", i+1)
}

func constraints(m map[string]any) []string {
	var out []string
	num := func(key, format string) {
		if v, ok := m[key]; ok {
			if _, isBool := v.(bool); !isBool {
				out = append(out, fmt.Sprintf(format, compactJSON(v)))
			}
		}
	}
	// 3.0 writes exclusiveMinimum: true beside minimum; 3.1 writes the bound.
	if m["exclusiveMinimum"] == true {
		num("minimum", "> %s")
	} else {
		num("minimum", "≥ %s")
	}
	if m["exclusiveMaximum"] == true {
		num("maximum", "< %s")
	} else {
		num("maximum", "≤ %s")
	}
	num("exclusiveMinimum", "> %s")
	num("exclusiveMaximum", "< %s")
	num("multipleOf", "multiple of %s")
	count := func(key, format, one, many string) {
		if v, ok := m[key]; ok {
			unit := many
			if compactJSON(v) == "1" {
				unit = one
			}
			out = append(out, fmt.Sprintf(format, compactJSON(v), unit))
		}
	}
	count("minLength", "at least %s %s", "character", "characters")
	count("maxLength", "at most %s %s", "character", "characters")
	count("minItems", "at least %s %s", "item", "items")
	count("maxItems", "at most %s %s", "item", "items")
	count("minProperties", "at least %s %s", "property", "properties")
	count("maxProperties", "at most %s %s", "property", "properties")
	if m["uniqueItems"] == true {
		out = append(out, "unique items")
	}
	if p := str(m["pattern"]); p != "" {
		out = append(out, "pattern "+p)
	}
	return out
}

// exampleOf is a schema's or a parameter's own example: example (3.0),
// or the first of examples (3.1's JSON Schema list).
func exampleOf(m map[string]any) (any, bool) {
	if ex, ok := m["example"]; ok {
		return ex, true
	}
	if exs, ok := m["examples"].([]any); ok && len(exs) > 0 {
		return exs[0], true
	}
	return nil, false
}

// synthesize makes an example value from a raw schema when the document
// gives none, so every body on the page shows what it looks like.
func (b *schemaBuilder) synthesize(raw any, stack []string) any {
	m, _ := raw.(map[string]any)
	if m == nil || len(stack) > 8 {
		return nil
	}
	if ref, ok := m["$ref"].(string); ok {
		if slices.Contains(stack, ref) {
			return nil
		}
		t, _ := pointer(b.root, ref)
		return b.synthesize(t, append(stack, ref))
	}
	if ex, ok := exampleOf(m); ok {
		return ex
	}
	if d, ok := m["default"]; ok {
		return d
	}
	if e := list(m["enum"]); len(e) > 0 {
		return e[0]
	}
	if c, ok := m["const"]; ok {
		return c
	}
	for _, key := range []string{"oneOf", "anyOf"} {
		if alts := list(m[key]); len(alts) > 0 {
			return b.synthesize(alts[0], stack)
		}
	}
	if all := list(m["allOf"]); len(all) > 0 {
		out := map[string]any{}
		for _, a := range all {
			if o, ok := b.synthesize(a, stack).(map[string]any); ok {
				for k, v := range o {
					out[k] = v
				}
			}
		}
		b.objectInto(out, m, stack)
		return out
	}
	typ := str(m["type"])
	if ts := list(m["type"]); len(ts) > 0 {
		for _, t := range ts {
			if t != "null" {
				typ, _ = t.(string)
				break
			}
		}
	}
	if typ == "" {
		switch {
		case m["properties"] != nil:
			typ = "object"
		case m["items"] != nil:
			typ = "array"
		}
	}
	switch typ {
	case "object":
		out := map[string]any{}
		b.objectInto(out, m, stack)
		return out
	case "array":
		if it := b.synthesize(m["items"], stack); it != nil {
			return []any{it}
		}
		return []any{}
	case "string":
		switch str(m["format"]) {
		case "date-time":
			return "2026-01-01T12:00:00Z"
		case "date":
			return "2026-01-01"
		case "email":
			return "user@example.com"
		case "uuid":
			return "3fa85f64-5717-4562-b3fc-2c963f66afa6"
		case "uri", "url":
			return "https://example.com/"
		case "ipv4":
			return "192.0.2.1"
		}
		return "string"
	case "integer":
		if v, ok := m["minimum"].(int64); ok {
			return v
		}
		return 0
	case "number":
		if v, ok := m["minimum"]; ok {
			return v
		}
		return 0.0
	case "boolean":
		return true
	}
	return nil
}

func (b *schemaBuilder) objectInto(out map[string]any, m map[string]any, stack []string) {
	props, _ := m["properties"].(map[string]any)
	for name, p := range props {
		if pm, ok := p.(map[string]any); ok && pm[map[bool]string{true: "readOnly", false: "writeOnly"}[b.request]] == true {
			continue
		}
		if v := b.synthesize(p, stack); v != nil {
			out[name] = v
		}
	}
}

func refName(ref string) string {
	if i := strings.LastIndexByte(ref, '/'); i >= 0 {
		return strings.ReplaceAll(strings.ReplaceAll(ref[i+1:], "~1", "/"), "~0", "~")
	}
	return ref
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

// compactJSON and prettyJSON show values as JSON as written: the page
// escapes them for HTML, so '<' stays '<' rather than \u003c.
func compactJSON(v any) string { return encodeJSON(v, "") }

func prettyJSON(v any) string { return encodeJSON(v, "  ") }

func encodeJSON(v any, indent string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
