package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// We decode yaml.Node trees ourselves rather than with yaml.v3's decoder:
// its errors stop at the first problem, lack columns and never name the
// field path, and it cannot reject unknown keys with a useful hint.

// NodeUnmarshaler is implemented by types that decode themselves from a YAML
// node (Duration, Size, CIDR, FilterSpec, and any filter config type that
// needs to). It gets n with aliases followed, and is called for null too,
// because only the type knows whether null means "unset". A FieldErr it
// returns is positioned at its path below n; any other error at n itself.
type NodeUnmarshaler interface {
	UnmarshalNode(n *yaml.Node) error
}

// BoolShorthand is implemented by config blocks that may also be written
// as true or false (`http3: true` for the block with its defaults). Any
// other value decodes as the block, field by field.
type BoolShorthand interface {
	SetFromBool(on bool)
}

var (
	unmarshalerType = reflect.TypeFor[NodeUnmarshaler]()
	shorthandType   = reflect.TypeFor[BoolShorthand]()
	nodeType        = reflect.TypeFor[yaml.Node]()
)

// maxDecodeValues bounds the values one Decode visits, so a document whose
// aliases expand exponentially ("billion laughs") is refused, not run.
const maxDecodeValues = 1 << 20

// Decode decodes node into out, a non-nil pointer. field is the path of node
// from the document root ("" for the root itself, or for example
// "routes[2].filters[0].headers"); every error names its full path and
// position. It reports every problem it finds, as Errors, not just the first.
//
// Mapping keys match struct fields by their yaml tag (lowercased field name
// without one; "-" skips a field); unknown and duplicate keys are errors.
// A null or empty value leaves the target as it was.
func Decode(file string, node *yaml.Node, field string, out any) error {
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return Errors{{File: file, Field: field, Msg: fmt.Sprintf("config.Decode needs a non-nil pointer, got %T", out)}}
	}
	d := &decoder{file: file}
	d.value(rv.Elem(), documentContent(node), &fieldPath{base: field})
	if d.values > maxDecodeValues {
		d.tooMany()
	}
	if len(d.errs) == 0 {
		return nil
	}
	sortErrors(d.errs)
	return d.errs
}

type decoder struct {
	file   string
	errs   Errors
	values int
	// aliased counts the values reached through an alias, to tell an alias
	// bomb from a document that is merely big; inAlias is the depth of
	// aliases being followed.
	aliased, inAlias int
	// overAt is where the values passed maxDecodeValues.
	overAt    *yaml.Node
	overField string
	// active holds the anchored values being decoded right now; an alias to
	// one of them would recurse forever (yaml.v3 builds such cycles). Made
	// by the first anchor: most documents have none.
	active map[*yaml.Node]bool
}

// fieldPath is the path of the value being decoded, as links to its
// parent's: the path's text ("routes[3].filters[0].headers") is needed only
// for an error, so it is built only then, not once per value decoded (at
// 10,000 routes that was a third of the decode's allocations).
type fieldPath struct {
	parent *fieldPath
	base   string // the root's: Decode's field
	key    string // a mapping key, when index < 0
	index  int    // a list index
}

func (p *fieldPath) key1(k string) fieldPath { return fieldPath{parent: p, key: k, index: -1} }
func (p *fieldPath) at(i int) fieldPath      { return fieldPath{parent: p, index: i} }

// text is the path's text in a string of its own: a copy, so that keeping
// it (in an Error) keeps none of the path, whose links live on the
// decoder's stack and stay there only if nothing they hold escapes.
func (p *fieldPath) text() string { return strings.Clone(p.String()) }

// String is the path's text.
func (p *fieldPath) String() string {
	if p.parent == nil {
		return p.base
	}
	if p.index >= 0 {
		return JoinIndex(p.parent.String(), p.index)
	}
	return JoinKey(p.parent.String(), p.key)
}

// tooMany reports a document over maxDecodeValues, saying whether aliases
// made it so.
func (d *decoder) tooMany() {
	n, field := d.overAt, &fieldPath{base: d.overField}
	defer func() { d.errs[len(d.errs)-1].Err = ErrTooLarge }()
	if len(d.errs) >= maxDecodeErrors {
		d.errs = d.errs[:maxDecodeErrors-1] // room for this one, the cause of the rest
	}
	if written := d.values - d.aliased; d.aliased > written {
		d.fail(n, field, "the document expands through aliases to more than %d values (%d of them repeats of anchored ones): an alias bomb? Write repeated blocks out, or use fewer levels of aliases", maxDecodeValues, d.aliased)
		return
	}
	d.fail(n, field, "the document holds more than %d values; split it across gateways", maxDecodeValues)
}

// maxDecodeErrors bounds the errors one Decode reports: past that, more
// only bury the first ones (and a hostile document could make millions).
const maxDecodeErrors = 100

func (d *decoder) fail(at *yaml.Node, field *fieldPath, format string, args ...any) {
	if len(d.errs) >= maxDecodeErrors {
		if len(d.errs) == maxDecodeErrors {
			d.errs = append(d.errs, &Error{File: d.file, Msg: fmt.Sprintf("more than %d problems; showing the first %d", maxDecodeErrors, maxDecodeErrors)})
		}
		return
	}
	e := &Error{File: d.file, Field: field.text(), Msg: fmt.Sprintf(format, args...)}
	if at != nil {
		e.Line, e.Col = at.Line, at.Column
	}
	d.errs = append(d.errs, e)
}

func (d *decoder) value(v reflect.Value, n *yaml.Node, field *fieldPath) {
	if n != nil && n.Kind == yaml.AliasNode {
		if n.Alias == nil || d.active[n.Alias] {
			d.fail(n, field, "alias *%s refers to a value that contains it", n.Value)
			return
		}
		d.inAlias++
		d.value(v, n.Alias, field)
		d.inAlias--
		return
	}
	if n != nil && n.Anchor != "" {
		if d.active == nil {
			d.active = map[*yaml.Node]bool{}
		}
		d.active[n] = true
		defer delete(d.active, n)
	}
	d.values++
	if d.inAlias > 0 {
		d.aliased++
	}
	if d.values > maxDecodeValues {
		if d.overAt == nil {
			d.overAt, d.overField = n, field.text()
		}
		return // tooMany reports it once decoding stops
	}

	// Raw nodes are kept as written, for a later stage to decode.
	switch {
	case v.Type() == nodeType:
		if n != nil {
			v.Set(reflect.ValueOf(*n))
		}
		return
	case v.Kind() == reflect.Pointer && v.Type().Elem() == nodeType:
		v.Set(reflect.ValueOf(n))
		return
	}
	if v.Kind() == reflect.Pointer {
		if isNull(n) {
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.value(v.Elem(), n, field)
		return
	}
	if v.CanAddr() && v.Addr().Type().Implements(unmarshalerType) {
		d.unmarshaler(v.Addr().Interface().(NodeUnmarshaler), n, field)
		return
	}
	if isNull(n) {
		return
	}
	if n.Kind == yaml.ScalarNode && v.CanAddr() && v.Addr().Type().Implements(shorthandType) {
		d.shorthand(v.Addr().Interface().(BoolShorthand), n, field)
		return
	}
	switch v.Kind() {
	case reflect.String:
		if s, ok := d.scalar(n, field, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		d.boolean(v, n, field)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		d.integer(v, n, field)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		d.unsigned(v, n, field)
	case reflect.Float32, reflect.Float64:
		if s, ok := d.scalar(n, field, "a number"); ok {
			f, err := strconv.ParseFloat(s, v.Type().Bits())
			if err != nil {
				d.fail(n, field, "expected a number, got %s", describe(n))
				return
			}
			v.SetFloat(f)
		}
	case reflect.Slice:
		d.slice(v, n, field)
	case reflect.Map:
		d.mapping(v, n, field)
	case reflect.Struct:
		d.structure(v, n, field)
	case reflect.Interface:
		d.anyValue(v, n, field)
	default:
		d.fail(n, field, "cannot decode into a Go %s (a bug in the config types)", v.Type())
	}
}

func (d *decoder) unmarshaler(u NodeUnmarshaler, n *yaml.Node, field *fieldPath) {
	if n == nil {
		n = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
	}
	err := u.UnmarshalNode(n)
	if err == nil {
		return
	}
	for _, e := range Resolve(d.file, n, "", err) {
		if e.Line == 0 {
			e.Line, e.Col = n.Line, n.Column
		}
		e.Field = joinPath(field.text(), e.Field)
		d.errs = append(d.errs, e)
	}
}

// scalar returns n's text, or records that want was expected instead.
func (d *decoder) scalar(n *yaml.Node, field *fieldPath, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, field, "expected %s, got %s", want, describe(n))
		return "", false
	}
	return n.Value, true
}

// shorthand decodes the scalar form of a BoolShorthand block.
func (d *decoder) shorthand(b BoolShorthand, n *yaml.Node, field *fieldPath) {
	switch n.Value {
	case "true", "True", "TRUE":
		b.SetFromBool(true)
	case "false", "False", "FALSE":
		b.SetFromBool(false)
	default:
		d.fail(n, field, "expected true, false or a block of settings, got %s", describe(n))
	}
}

func (d *decoder) boolean(v reflect.Value, n *yaml.Node, field *fieldPath) {
	s, ok := d.scalar(n, field, "true or false")
	if !ok {
		return
	}
	switch s {
	case "true", "True", "TRUE":
		v.SetBool(true)
	case "false", "False", "FALSE":
		v.SetBool(false)
	default:
		d.fail(n, field, "expected true or false, got %s", describe(n))
	}
}

func (d *decoder) integer(v reflect.Value, n *yaml.Node, field *fieldPath) {
	s, ok := d.scalar(n, field, "an integer")
	if !ok {
		return
	}
	i, err := strconv.ParseInt(s, intBase(s), v.Type().Bits())
	switch {
	case errors.Is(err, strconv.ErrRange):
		d.fail(n, field, "%s is out of range for this field (%d-bit integer)", s, v.Type().Bits())
	case err != nil:
		d.fail(n, field, "expected an integer, got %s", describe(n))
	default:
		v.SetInt(i)
	}
}

func (d *decoder) unsigned(v reflect.Value, n *yaml.Node, field *fieldPath) {
	s, ok := d.scalar(n, field, "a non-negative integer")
	if !ok {
		return
	}
	u, err := strconv.ParseUint(s, intBase(s), v.Type().Bits())
	switch {
	case errors.Is(err, strconv.ErrRange):
		d.fail(n, field, "%s is out of range for this field (%d-bit unsigned integer)", s, v.Type().Bits())
	case err != nil:
		d.fail(n, field, "expected a non-negative integer, got %s", describe(n))
	default:
		v.SetUint(u)
	}
}

// intBase reads 0x, 0o and 0b prefixes as YAML 1.2 does, but a leading zero
// alone stays decimal: "010" is ten, not eight.
func intBase(s string) int {
	t := strings.TrimLeft(s, "+-")
	if len(t) > 2 && t[0] == '0' && strings.ContainsRune("xXoObB", rune(t[1])) {
		return 0
	}
	return 10
}

func (d *decoder) slice(v reflect.Value, n *yaml.Node, field *fieldPath) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, field, "expected a list, got %s", describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	at := field.at(0) // outside the loop, so it can stay on the stack
	for i, item := range n.Content {
		at.index = i
		d.value(s.Index(i), item, &at)
	}
	v.Set(s)
}

func (d *decoder) mapping(v reflect.Value, n *yaml.Node, field *fieldPath) {
	t := v.Type()
	if t.Key().Kind() != reflect.String {
		d.fail(n, field, "cannot decode into a Go %s: map keys must be strings (a bug in the config types)", t)
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, field, "expected a mapping (key: value), got %s", describe(n))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(t))
	}
	at := field.key1("") // outside the loop, so it can stay on the stack
	for _, p := range d.pairs(n, field) {
		elem := reflect.New(t.Elem()).Elem()
		at.key = p.key.Value
		d.value(elem, p.value, &at)
		v.SetMapIndex(reflect.ValueOf(p.key.Value).Convert(t.Key()), elem)
	}
}

func (d *decoder) structure(v reflect.Value, n *yaml.Node, field *fieldPath) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, field, "expected a mapping (key: value), got %s", describe(n))
		return
	}
	fields, names := fieldsOf(v.Type())
	var open openBlock
	if v.CanAddr() && v.Addr().Type().Implements(openBlockType) {
		open = v.Addr().Interface().(openBlock)
	}
	at := field.key1("") // outside the loop, so it can stay on the stack
	for _, p := range d.pairs(n, field) {
		at.key = p.key.Value
		if i, ok := fields[p.key.Value]; ok {
			d.value(v.Field(i), p.value, &at)
			if tag, ok := v.Type().Field(i).Tag.Lookup("path"); ok {
				d.relativeTo(v.Field(i), tag)
			}
			continue
		}
		if open != nil && d.section(open, p, field) {
			continue
		}
		valid := names
		if open != nil { // the block's own fields and its registered sections
			scope, _ := open.sectionsIn()
			valid = slices.Concat(names, registeredKeys(scope))
			sort.Strings(valid)
		}
		d.fail(p.key, &at, "%s", unknownField(p.key.Value, valid))
	}
}

// relativeTo resolves a file path written relative to the config file's
// directory, as a reader of the file expects, not to the process's working
// directory, which depends on how the gateway was started. A field tagged
// path:"file" holds one; words listed after "file" (path:"file,stdout")
// are kept as they are. An embedded config (file "") is left alone.
func (d *decoder) relativeTo(v reflect.Value, tag string) {
	words := strings.Split(tag, ",")
	if words[0] != "file" || v.Kind() != reflect.String {
		panic(fmt.Sprintf("config: path:%q on a Go %s; write path:\"file\" on a string field", tag, v.Type()))
	}
	p := v.String()
	if d.file == "" || p == "" || filepath.IsAbs(p) || slices.Contains(words[1:], p) {
		return
	}
	v.SetString(filepath.Join(filepath.Dir(d.file), p))
}

// section decodes a key registered in an open block (section.go) into a
// new value of its type, kept in the block; false if the key is not one.
func (d *decoder) section(open openBlock, p pair, field *fieldPath) bool {
	scope, m := open.sectionsIn()
	def := registered(scope, p.key.Value)
	if def == nil {
		return false
	}
	s := reflect.New(def.typ)
	at := field.key1(p.key.Value)
	d.value(s.Elem(), p.value, &at)
	if *m == nil {
		*m = map[string]any{}
	}
	(*m)[p.key.Value] = s.Interface()
	return true
}

// anyValue decodes into an interface{} field with yaml.v3's own rules, for
// free-form blocks (a plugin's opaque config) that have no schema of ours.
func (d *decoder) anyValue(v reflect.Value, n *yaml.Node, field *fieldPath) {
	if v.NumMethod() != 0 {
		d.fail(n, field, "cannot decode into a Go %s (a bug in the config types)", v.Type())
		return
	}
	var x any
	if err := n.Decode(&x); err != nil {
		d.fail(n, field, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
		return
	}
	if x != nil {
		v.Set(reflect.ValueOf(x))
	}
}

// pairs returns n's entries with merge keys applied, recording duplicate and
// malformed keys; only entries with string keys are returned.
func (d *decoder) pairs(n *yaml.Node, field *fieldPath) []pair {
	ps, problems := mappingPairs(n)
	at := field.key1("")
	for _, p := range problems {
		at.key = p.key
		d.fail(p.at, &at, "%s", p.msg)
	}
	out := ps[:0] // ps is ours: filter it in place
	for _, p := range ps {
		if p.key.Kind != yaml.ScalarNode {
			d.fail(p.key, field, "keys must be strings, got %s", describe(p.key))
			continue
		}
		out = append(out, p)
	}
	return out
}

// fieldsOf maps a struct's YAML keys to field indices, and lists the keys
// sorted for error messages. Both are computed once per type and shared:
// callers must not modify them.
func fieldsOf(t reflect.Type) (map[string]int, []string) {
	if f, ok := fieldTables.Load(t); ok {
		ft := f.(*fieldTable)
		return ft.index, ft.names
	}
	index, names := computeFields(t)
	fieldTables.Store(t, &fieldTable{index, names})
	return index, names
}

// fieldTables caches fieldsOf by type: a 10,000-route config decodes the
// same few struct types hundreds of thousands of times.
var fieldTables sync.Map // reflect.Type → *fieldTable

type fieldTable struct {
	index map[string]int
	names []string
}

func computeFields(t reflect.Type) (map[string]int, []string) {
	fields := map[string]int{}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = i
		names = append(names, name)
	}
	sort.Strings(names)
	return fields, names
}

func unknownField(key string, valid []string) string {
	if len(valid) == 0 {
		return fmt.Sprintf("unknown field %q; this block takes no fields", key)
	}
	msg := fmt.Sprintf("unknown field %q; valid fields: %s", key, strings.Join(valid, ", "))
	if s := Closest(key, valid); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	return msg
}

// isNull reports whether n is absent, empty or an explicit null (~, null).
func isNull(n *yaml.Node) bool {
	if n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && n.Alias.Kind != yaml.AliasNode {
		n = n.Alias
	}
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// describe names what a node holds, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch {
	case isNull(n):
		return "nothing (null)"
	case n.Kind == yaml.AliasNode:
		return "an alias"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	}
	return describeText(n.Value)
}

// describeText quotes s for a message, shortened to 40 characters.
func describeText(s string) string {
	if r := []rune(s); len(r) > 40 {
		s = string(r[:40]) + "…"
	}
	return strconv.Quote(s)
}

// documentContent returns the top value of a document node, or n itself.
func documentContent(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		return n.Content[0]
	}
	return n
}
