package config

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// The JSON Schema (draft 2020-12) of the config, for editors (through
// yaml-language-server) and CI linters. It is generated from the same Go
// types and the same rules the decoder follows (fieldsOf, open blocks and
// their registered keys, NodeUnmarshaler types), so it cannot drift from
// what `validate` accepts: a struct takes exactly its fields, null leaves
// any value unset, and every scalar may be a ${VAR} reference, since env
// expansion happens before decoding. What only the checks know (a required
// field, a port range) is left to validate.

// JSONSchemaer is implemented by the types that decode themselves
// (NodeUnmarshaler): the schema of what their UnmarshalNode accepts,
// without null or ${VAR}, which the generator adds.
type JSONSchemaer interface {
	JSONSchema() map[string]any
}

// EnumFielder is implemented by config blocks with fields that take one
// of a fixed set of strings: the valid values by YAML key. The block's
// check is to test them with Validator.OneOf on the same lists.
type EnumFielder interface {
	EnumFields() map[string][]string
}

// SchemaOptions are what the schema needs from outside core/config.
type SchemaOptions struct {
	// Filters maps each key of a route's filters list to its config type
	// (core/filter's registry).
	Filters map[string]reflect.Type
	// Describe returns the description of field (a Go field name) of the
	// struct type t, or of t itself when field is ""; "" if it has none.
	// Nil: no descriptions.
	Describe func(t reflect.Type, field string) string
}

// SchemaID is the $id of the schema `wasmgate config schema` prints.
const SchemaID = "https://wasmgate.dev/schema/config.json"

// Schema returns the JSON Schema of a config file, as a JSON-ready value.
func Schema(opts SchemaOptions) map[string]any {
	g := &schemaGen{opts: opts, defs: map[string]any{}, names: map[reflect.Type]string{}, taken: map[string]bool{}}
	describe := opts.Describe
	if describe == nil {
		describe = func(reflect.Type, string) string { return "" }
	}
	// A block registered as a *T or a []T is described as T is.
	g.opts.Describe = func(t reflect.Type, field string) string {
		if field == "" {
			for t.Name() == "" && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice) {
				t = t.Elem()
			}
		}
		return describe(t, field)
	}
	g.defs["env"] = map[string]any{
		"type":        "string",
		"pattern":     `\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}`,
		"description": "A ${NAME} or ${NAME:-default} reference, replaced from the environment before the value is read.",
	}
	root := g.ref(reflect.TypeFor[Config]())
	out := map[string]any{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"$id":         SchemaID,
		"title":       "wasmgate config",
		"description": "A wasmgate gateway config (wasmgate config schema prints this schema; wasmgate validate checks what a schema cannot).",
		"$ref":        root["$ref"],
		"$defs":       g.defs,
	}
	return out
}

type schemaGen struct {
	opts  SchemaOptions
	defs  map[string]any
	names map[reflect.Type]string
	taken map[string]bool
}

var (
	schemaerType   = reflect.TypeFor[JSONSchemaer]()
	enumFielderTyp = reflect.TypeFor[EnumFielder]()
	schemaNull     = map[string]any{"type": "null"}
	schemaEnv      = map[string]any{"$ref": "#/$defs/env"}
)

// of returns the schema of a value of type t.
func (g *schemaGen) of(t reflect.Type) map[string]any {
	if t == nodeType || (t.Kind() == reflect.Pointer && t.Elem() == nodeType) {
		return map[string]any{} // kept as written, for its owner to read
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == filterSpecType || reflect.PointerTo(t).Implements(schemaerType) || t.Kind() == reflect.Struct {
		return g.ref(t)
	}
	switch t.Kind() {
	case reflect.String:
		// The decoder takes any scalar's text: "version: 2" is "2".
		return map[string]any{"type": []any{"string", "number", "boolean", "null"}}
	case reflect.Bool:
		return scalar(map[string]any{"type": "boolean"})
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return scalar(map[string]any{"type": "integer"})
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return scalar(map[string]any{"type": "integer", "minimum": 0})
	case reflect.Float32, reflect.Float64:
		return scalar(map[string]any{"type": "number"})
	case reflect.Slice:
		return map[string]any{"type": []any{"array", "null"}, "items": g.of(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": []any{"object", "null"}, "additionalProperties": g.of(t.Elem())}
	case reflect.Interface:
		return map[string]any{}
	}
	panic(fmt.Sprintf("config: no JSON Schema for a Go %s (a bug in the config types)", t))
}

// scalar is s, or null (unset), or a ${VAR} reference.
func scalar(s map[string]any) map[string]any {
	return map[string]any{"anyOf": []any{s, schemaNull, schemaEnv}}
}

// ref defines t once under $defs and returns a reference to it.
func (g *schemaGen) ref(t reflect.Type) map[string]any {
	name, ok := g.names[t]
	if !ok {
		name = g.defName(t)
		g.names[t] = name
		g.defs[name] = true // a placeholder while t's own fields refer to it
		g.defs[name] = g.define(t)
	}
	return map[string]any{"$ref": "#/$defs/" + name}
}

// defName is "Server" for core/config's types, "cors.Config" for others.
func (g *schemaGen) defName(t reflect.Type) string {
	name := t.Name()
	if t.PkgPath() != reflect.TypeFor[Config]().PkgPath() {
		name = t.PkgPath()[strings.LastIndex(t.PkgPath(), "/")+1:] + "." + name
	}
	for i := 2; g.taken[name]; i++ {
		name = fmt.Sprintf("%s%d", strings.TrimRight(name, "0123456789"), i)
	}
	g.taken[name] = true
	return name
}

func (g *schemaGen) define(t reflect.Type) map[string]any {
	var s map[string]any
	switch {
	case t == filterSpecType:
		s = g.filterEntry()
	case reflect.PointerTo(t).Implements(schemaerType):
		custom := reflect.New(t).Interface().(JSONSchemaer).JSONSchema()
		s = map[string]any{"anyOf": []any{custom, schemaNull, schemaEnv}}
	case reflect.PointerTo(t).Implements(shorthandType):
		s = map[string]any{"anyOf": []any{g.object(t), map[string]any{"type": "boolean"}, schemaNull, schemaEnv}}
	default:
		s = g.object(t)
	}
	if d := g.opts.Describe(t, ""); d != "" {
		s["description"] = d
	}
	return s
}

// object is the schema of a struct: its fields, and the keys registered in
// it if it is an open block; nothing else.
func (g *schemaGen) object(t reflect.Type) map[string]any {
	var enums map[string][]string
	if reflect.PointerTo(t).Implements(enumFielderTyp) {
		enums = reflect.New(t).Interface().(EnumFielder).EnumFields()
	}
	fields, names := fieldsOf(t)
	props := map[string]any{}
	for _, key := range names {
		f := t.Field(fields[key])
		var p map[string]any
		if values, ok := enums[key]; ok {
			switch {
			case f.Type.Kind() == reflect.String:
				p = enum(values)
			case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.String:
				p = map[string]any{"type": []any{"array", "null"}, "items": enum(values)}
			default:
				panic(fmt.Sprintf("config: %s.%s has enum values but is not a string or a list of them", t, f.Name))
			}
			delete(enums, key)
		} else {
			p = g.of(f.Type)
		}
		d := g.opts.Describe(t, f.Name)
		if _, ok := f.Tag.Lookup("path"); ok {
			d = strings.TrimSpace(d + " A relative path is relative to the config file's directory.")
		}
		props[key] = g.described(p, d)
	}
	if len(enums) > 0 {
		panic(fmt.Sprintf("config: %s.EnumFields names keys it does not have: %v", t, enums))
	}
	if reflect.PointerTo(t).Implements(openBlockType) {
		scope, _ := reflect.New(t).Interface().(openBlock).sectionsIn()
		for _, key := range registeredKeys(scope) {
			st := registered(scope, key).typ
			props[key] = g.described(g.of(st), g.opts.Describe(st, ""))
		}
	}
	return map[string]any{
		"type":                 []any{"object", "null"},
		"properties":           props,
		"additionalProperties": false,
	}
}

// enum is one of values, or null or ${VAR}. A value that YAML reads as a
// number ("min_version: 1.3") is one too: the decoder takes its text.
func enum(values []string) map[string]any {
	vs := make([]any, 0, len(values)+1)
	for _, v := range values {
		vs = append(vs, v)
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			vs = append(vs, f)
		}
	}
	return map[string]any{"anyOf": []any{map[string]any{"enum": append(vs, nil)}, schemaEnv}}
}

// described adds a description to p; a $ref keeps its target's otherwise.
func (g *schemaGen) described(p map[string]any, d string) map[string]any {
	if d == "" {
		return p
	}
	out := map[string]any{"description": d}
	for k, v := range p {
		out[k] = v
	}
	return out
}

// filterEntry is one entry of a filters list: a single-key map naming a
// registered filter or "chain".
func (g *schemaGen) filterEntry() map[string]any {
	filters := map[string]any{}
	for _, name := range slices.Sorted(maps.Keys(g.opts.Filters)) {
		t := g.opts.Filters[name]
		filters[name] = g.described(g.of(t), g.opts.Describe(t, ""))
	}
	props := maps.Clone(filters)
	props["chain"] = g.chainRef(filters)
	return map[string]any{
		"type":                 "object",
		"properties":           props,
		"additionalProperties": false,
		"minProperties":        1,
		"maxProperties":        1,
	}
}

// chainRef is the value of a `- chain:` entry (chains.go).
func (g *schemaGen) chainRef(filters map[string]any) map[string]any {
	block := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"name":    map[string]any{"type": "string", "description": "The filter chain, a key of filter_chains."},
			"exclude": map[string]any{"type": "array", "items": map[string]any{"type": "string"}, "description": "Filter kinds dropped from the chain for this route."},
			"replace": map[string]any{"type": "object", "properties": filters, "additionalProperties": false, "description": "Filter blocks put in the place of the chain's filter of the same kind, for this route."},
		},
		"additionalProperties": false,
	}
	return map[string]any{
		"description": "Expands the named entry of filter_chains in place: its filters run here, in order.",
		"anyOf":       []any{map[string]any{"type": "string"}, block},
	}
}
