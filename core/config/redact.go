package config

import (
	"bytes"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The admin API shows the running config. What it hides is decided by the
// schema, not by how keys are spelled: a field is secret when its Go type
// says so with a `redact` tag, so a token under any key, and a secret a
// filter declares in its own config type, are hidden alike.
//
//	Password string `yaml:"password" redact:"secret"`
//	Config *yaml.Node `yaml:"config" redact:"secret,unless=config_visible"`
//
// "secret" hides every value below the field (map keys stay, so a headers
// map still shows which headers are set); a free-form block (a yaml.Node)
// is hidden whole. "unless=KEY" shows the field when its sibling KEY is
// written as a literal true. A filter's block is walked with its registered
// config type; an unknown one is hidden whole.
//
// The view is rendered from the file as written, before ${ENV} expansion,
// so a value from the environment shows as its reference (${NAME}), never
// its value. Aliases are resolved and anchors dropped: a value is hidden
// wherever it appears if it is secret in any one place, so a secret cannot
// be read at its anchor, at another alias of it, or through a merge key (<<).
// Comments are dropped: they have no schema.

// Redacted is what a hidden value is shown as.
const Redacted = "[redacted]"

// secretKey matches free-form map keys (header names, metadata) whose
// values are secret by name, a second line behind the schema for maps that
// hold anything: respond.headers: {Authorization: ...}.
var secretKey = regexp.MustCompile(`(?i)(secret|password|passwd|token|api[-_]?key|private|credential|authorization|cookie|session)`)

// maxRenderValues bounds the values a rendered view may hold: a document
// that expands past it through aliases is not shown (loading refuses one
// past the same bound, so a running config is never cut short).
const maxRenderValues = maxDecodeValues

// Redact renders the config document src for display, with secret values
// replaced by Redacted. filterConfig returns a new config value of the
// filter registered under name (nil if none), whose type declares which of
// its fields are secret.
func Redact(src []byte, filterConfig func(name string) any) []byte {
	root, errs := parseYAML("", src)
	if errs != nil {
		return []byte("# config not shown: it does not parse\n")
	}
	top := documentContent(root)
	m := &marker{hide: map[*yaml.Node]bool{}, active: map[*yaml.Node]bool{}, filterConfig: filterConfig}
	m.walk(reflect.TypeFor[Config](), top)
	r := &renderer{hide: m.hide, active: map[*yaml.Node]bool{}}
	out := r.node(top)
	if m.over || r.over {
		return []byte(fmt.Sprintf("# config not shown: it expands through aliases to more than %d values\n", maxRenderValues))
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(out); err != nil {
		return []byte("# config not shown: it cannot be encoded\n")
	}
	_ = enc.Close()
	return b.Bytes()
}

// marker finds the nodes to hide by walking the document with the types it
// decodes into.
type marker struct {
	hide         map[*yaml.Node]bool
	active       map[*yaml.Node]bool // anchored values being walked (cycles)
	filterConfig func(string) any
	values       int
	over         bool
}

var filterSpecType = reflect.TypeFor[FilterSpec]()

func (m *marker) enter(n *yaml.Node) (*yaml.Node, bool) {
	if n == nil || m.over {
		return nil, false
	}
	n = followAlias(n)
	if m.values++; m.values > maxRenderValues {
		m.over = true
		return nil, false
	}
	return n, !m.active[n]
}

func (m *marker) walk(t reflect.Type, n *yaml.Node) {
	n, ok := m.enter(n)
	if !ok {
		return
	}
	if n.Anchor != "" {
		m.active[n] = true
		defer delete(m.active, n)
	}
	switch {
	case t == nodeType || t == reflect.PointerTo(nodeType):
		m.whole(n) // free-form: no schema says what is safe
		return
	case t == filterSpecType:
		m.filter(n)
		return
	case reflect.PointerTo(t).Implements(unmarshalerType) || t.Implements(unmarshalerType):
		return // a value type of its own (Duration, Size, CIDR...), shown
	}
	switch t.Kind() {
	case reflect.Pointer:
		m.walk(t.Elem(), n)
	case reflect.Struct:
		m.structure(t, n)
	case reflect.Slice:
		if n.Kind == yaml.SequenceNode {
			for _, item := range n.Content {
				m.walk(t.Elem(), item)
			}
		}
	case reflect.Map:
		if n.Kind == yaml.MappingNode {
			ps, _ := mappingPairs(n)
			for _, p := range ps {
				if secretKey.MatchString(p.key.Value) {
					m.secret(p.value)
					continue
				}
				m.walk(t.Elem(), p.value)
			}
		}
	case reflect.Interface:
		m.whole(n)
	}
}

func (m *marker) structure(t reflect.Type, n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		return
	}
	fields, _ := fieldsOf(t)
	ps, _ := mappingPairs(n)
	scope, open := "", reflect.PointerTo(t).Implements(openBlockType)
	if open {
		scope, _ = reflect.New(t).Interface().(openBlock).sectionsIn()
	}
	for _, p := range ps {
		i, ok := fields[p.key.Value]
		if !ok {
			if def := registered(scope, p.key.Value); open && def != nil {
				m.walk(def.typ, p.value) // a section: its owner's type says
				continue
			}
			m.secret(p.value) // not in the schema: nothing says it is safe
			continue
		}
		f := t.Field(i)
		secret, unless := redactTag(f.Tag.Get("redact"))
		switch {
		case !secret:
			m.walk(f.Type, p.value)
		case unless != "" && literalTrue(ps, unless):
			// shown as written
		case f.Type == nodeType || f.Type == reflect.PointerTo(nodeType):
			if v, ok := m.enter(p.value); ok {
				m.whole(v)
			}
		default:
			m.secret(p.value)
		}
	}
}

// filter walks one filters-list entry with its filter's config type.
func (m *marker) filter(n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		return
	}
	ps, _ := mappingPairs(n)
	for _, p := range ps {
		switch fc := m.filterConfig(p.key.Value); {
		case p.key.Value == "chain":
			// "- chain: { name, exclude, replace: { KIND: {...} } }": the
			// replacement blocks are filter blocks, hidden as theirs are.
			v := followAlias(p.value)
			if v.Kind != yaml.MappingNode {
				m.walk(reflect.TypeFor[string](), p.value)
				continue
			}
			cps, _ := mappingPairs(v)
			for _, cp := range cps {
				if cp.key.Value == "replace" && followAlias(cp.value).Kind == yaml.MappingNode {
					m.filter(followAlias(cp.value))
				}
			}
		case fc == nil:
			if v, ok := m.enter(p.value); ok {
				m.whole(v)
			}
		default:
			m.walk(reflect.TypeOf(fc), p.value)
		}
	}
}

// secret hides every value below n; mapping keys stay.
func (m *marker) secret(n *yaml.Node) {
	n, ok := m.enter(n)
	if !ok {
		return
	}
	if n.Anchor != "" {
		m.active[n] = true
		defer delete(m.active, n)
	}
	switch n.Kind {
	case yaml.ScalarNode:
		m.hide[n] = true
	case yaml.SequenceNode:
		for _, item := range n.Content {
			m.secret(item)
		}
	case yaml.MappingNode:
		ps, _ := mappingPairs(n)
		for _, p := range ps {
			m.secret(p.value)
		}
	}
}

// whole hides n as one value, and every node below it, keys too, wherever
// else they appear through aliases.
func (m *marker) whole(n *yaml.Node) {
	n = followAlias(n)
	if m.hide[n] && len(n.Content) == 0 {
		return
	}
	if m.values++; m.values > maxRenderValues {
		m.over = true
		return
	}
	if m.active[n] {
		return
	}
	m.hide[n] = true
	m.active[n] = true
	for _, c := range n.Content {
		m.whole(c)
	}
	delete(m.active, n)
}

// redactTag reads a `redact:"secret[,unless=KEY]"` tag.
func redactTag(tag string) (secret bool, unless string) {
	for _, part := range strings.Split(tag, ",") {
		switch k, v, _ := strings.Cut(part, "="); k {
		case "secret":
			secret = true
		case "unless":
			unless = v
		}
	}
	return secret, unless
}

// literalTrue reports whether key is written as true in ps, literally: a
// ${ENV} reference, unexpanded here, does not count.
func literalTrue(ps []pair, key string) bool {
	for _, p := range ps {
		if p.key.Value == key {
			v := followAlias(p.value)
			return v.Kind == yaml.ScalarNode && (v.Value == "true" || v.Value == "True" || v.Value == "TRUE")
		}
	}
	return false
}

// renderer copies the document with aliases resolved, anchors and comments
// dropped, and hidden nodes replaced.
type renderer struct {
	hide   map[*yaml.Node]bool
	active map[*yaml.Node]bool
	values int
	over   bool
}

func (r *renderer) node(n *yaml.Node) *yaml.Node {
	if n == nil {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	}
	n = followAlias(n)
	if r.values++; r.values > maxRenderValues || r.active[n] {
		r.over = true
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	}
	if r.hide[n] {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: Redacted}
	}
	out := &yaml.Node{Kind: n.Kind, Style: n.Style, Tag: n.Tag, Value: n.Value}
	if len(n.Content) > 0 {
		r.active[n] = true
		out.Content = make([]*yaml.Node, len(n.Content))
		for i, c := range n.Content {
			out.Content[i] = r.node(c)
		}
		delete(r.active, n)
	}
	return out
}
