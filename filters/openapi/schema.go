package openapi

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// jsonType is a set of JSON Schema types, one bit each.
type jsonType uint8

const (
	tNull jsonType = 1 << iota
	tBool
	tInteger
	tNumber // includes integers
	tString
	tArray
	tObject
)

var typeNames = []struct {
	t    jsonType
	name string
}{{tNull, "null"}, {tBool, "boolean"}, {tInteger, "integer"}, {tNumber, "number"}, {tString, "string"}, {tArray, "array"}, {tObject, "object"}}

func (t jsonType) String() string {
	var parts []string
	for _, n := range typeNames {
		if t&n.t != 0 && !(n.t == tInteger && t&tNumber != 0) {
			parts = append(parts, n.name)
		}
	}
	return strings.Join(parts, " or ")
}

// schema is one compiled JSON Schema (2020-12, as OpenAPI 3.1 uses it; a
// 3.0 schema is rewritten to that form first). The keywords compiled here
// are those request validation meets in practice; a schema using any
// other keyword keeps a jsonschema fallback for its subtree, which
// validates the decoded value instead (validate.go).
type schema struct {
	types jsonType // 0: any

	enum     []any    // decoded values
	enumStrs []string // when every enum value is a string: compared without decoding
	hasConst bool
	constV   any

	minLength, maxLength int // -1: none
	pattern              *regexp.Regexp
	format               string
	formatCheck          func(string) bool

	minimum, maximum     float64
	hasMin, hasMax       bool
	exMinimum, exMaximum float64
	hasExMin, hasExMax   bool
	multipleOf           float64
	// The bounds and multipleOf exactly (a float64 rounds MaxInt64 up),
	// for a value whose float64 ties with one (numbers.go).
	minR, maxR, exMinR, exMaxR, multR *big.Rat
	minProps, maxProps                int // -1: none
	props                             map[string]*schema
	required                          []string
	requiredIndex                     map[string]int
	additional                        *schema // nil: anything
	noAdditional                      bool
	items                             *schema
	prefixItems                       []*schema
	minItems, maxItems                int // -1: none
	allOf, anyOf, oneOf               []*schema
	not                               *schema
	falseSchema                       bool // the schema false: nothing is valid
	fallback                          *jsonschema.Schema
	fallbackKeyword                   string
	readOnly, writeOnly               bool
	needString, needNumber            bool // any string / number constraint at all
}

// keywords this compiler handles itself; annotations are ignored.
var handled = map[string]bool{
	"type": true, "enum": true, "const": true, "minLength": true, "maxLength": true,
	"pattern": true, "format": true, "minimum": true, "maximum": true,
	"exclusiveMinimum": true, "exclusiveMaximum": true, "multipleOf": true,
	"minProperties": true, "maxProperties": true, "properties": true, "required": true,
	"additionalProperties": true, "items": true, "prefixItems": true, "minItems": true,
	"maxItems": true, "allOf": true, "anyOf": true, "oneOf": true, "not": true, "$ref": true,
	// annotations
	"title": true, "description": true, "default": true, "examples": true, "example": true,
	"readOnly": true, "writeOnly": true, "deprecated": true, "discriminator": true,
	"xml": true, "externalDocs": true, "$comment": true, "$schema": true, "$id": true,
	"contentMediaType": true, "contentEncoding": true, "nullable": true,
}

// compiler turns the document's schemas into *schema, once per document.
type compiler struct {
	root  map[string]any
	byPtr map[string]*schema // $ref targets, compiled once (recursion safe)
	js    *jsonschema.Compiler
}

const docURL = "mem:///openapi.json"

func newCompiler(root map[string]any) (*compiler, error) {
	js := jsonschema.NewCompiler()
	js.DefaultDraft(jsonschema.Draft2020)
	js.AssertFormat()
	if err := js.AddResource(docURL, root); err != nil {
		return nil, err
	}
	return &compiler{root: root, byPtr: map[string]*schema{}, js: js}, nil
}

// compile compiles the schema v found at JSON pointer ptr ("#/components/...").
func (c *compiler) compile(v any, ptr string) (*schema, error) {
	switch t := v.(type) {
	case bool:
		if t {
			return &schema{minLength: -1, maxLength: -1, minProps: -1, maxProps: -1, minItems: -1, maxItems: -1}, nil
		}
		return &schema{falseSchema: true, minLength: -1, maxLength: -1, minProps: -1, maxProps: -1, minItems: -1, maxItems: -1}, nil
	case map[string]any:
		if ref, ok := t["$ref"].(string); ok && len(t) == 1 || ok && onlyAnnotations(t) {
			return c.ref(ref)
		}
		return c.object(t, ptr)
	default:
		return nil, fmt.Errorf("%s: a schema must be an object or a boolean", ptr)
	}
}

func onlyAnnotations(m map[string]any) bool {
	for k := range m {
		switch k {
		case "$ref", "description", "title", "example", "examples", "deprecated", "readOnly", "writeOnly":
		default:
			return false
		}
	}
	return true
}

func (c *compiler) ref(ref string) (*schema, error) {
	if s := c.byPtr[ref]; s != nil {
		return s, nil
	}
	target, ok := pointer(c.root, ref)
	if !ok {
		return nil, fmt.Errorf("$ref %q points to nothing in the document", ref)
	}
	m, ok := target.(map[string]any)
	if !ok {
		return c.compile(target, ref)
	}
	s := &schema{}
	c.byPtr[ref] = s // before compiling: a recursive $ref finds it
	if inner, ok := m["$ref"].(string); ok && onlyAnnotations(m) {
		t, err := c.ref(inner)
		if err != nil {
			return nil, err
		}
		*s = *t
		return s, nil
	}
	built, err := c.object(m, ref)
	if err != nil {
		return nil, err
	}
	*s = *built
	return s, nil
}

func (c *compiler) object(m map[string]any, ptr string) (*schema, error) {
	s := &schema{minLength: -1, maxLength: -1, minProps: -1, maxProps: -1, minItems: -1, maxItems: -1}
	for k := range m {
		if !handled[k] && !strings.HasPrefix(k, "x-") {
			s.fallbackKeyword = k
		}
	}
	if s.fallbackKeyword != "" {
		fb, err := c.js.Compile(docURL + fragment(ptr))
		if err != nil {
			return nil, fmt.Errorf("%s: %v", ptr, err)
		}
		s.fallback = fb
		return s, nil
	}
	var err error
	sub := func(v any, at string) *schema {
		if err != nil {
			return nil
		}
		var r *schema
		r, err = c.compile(v, at)
		return r
	}
	subs := func(v any, at string) []*schema {
		arr, _ := v.([]any)
		out := make([]*schema, 0, len(arr))
		for i, e := range arr {
			out = append(out, sub(e, at+"/"+strconv.Itoa(i)))
		}
		return out
	}
	switch t := m["type"].(type) {
	case string:
		s.types = typeFromName(t)
	case []any:
		for _, e := range t {
			if n, ok := e.(string); ok {
				s.types |= typeFromName(n)
			}
		}
	}
	if e, ok := m["enum"].([]any); ok {
		s.enum = e
		allStr := true
		for _, v := range e {
			str, ok := v.(string)
			if !ok {
				allStr = false
				break
			}
			s.enumStrs = append(s.enumStrs, str)
		}
		if !allStr {
			s.enumStrs = nil
		}
	}
	if v, ok := m["const"]; ok {
		s.hasConst, s.constV = true, v
	}
	s.minLength = intOr(m["minLength"], -1)
	s.maxLength = intOr(m["maxLength"], -1)
	if p, ok := m["pattern"].(string); ok {
		re, perr := regexp.Compile(p)
		if perr != nil {
			return nil, fmt.Errorf("%s/pattern: %q is not a regular expression Go can run: %v", ptr, p, perr)
		}
		s.pattern = re
	}
	if f, ok := m["format"].(string); ok {
		s.format, s.formatCheck = f, formats[f]
	}
	s.minimum, s.hasMin = num(m["minimum"])
	s.maximum, s.hasMax = num(m["maximum"])
	s.exMinimum, s.hasExMin = num(m["exclusiveMinimum"])
	s.exMaximum, s.hasExMax = num(m["exclusiveMaximum"])
	s.multipleOf, _ = num(m["multipleOf"])
	s.minR, s.maxR = ratOf(s.minimum, s.hasMin), ratOf(s.maximum, s.hasMax)
	s.exMinR, s.exMaxR = ratOf(s.exMinimum, s.hasExMin), ratOf(s.exMaximum, s.hasExMax)
	s.multR = ratOf(s.multipleOf, s.multipleOf > 0)
	switch s.format {
	case "int32":
		s.bound(math.MinInt32, math.MaxInt32)
	case "int64":
		s.bound(math.MinInt64, math.MaxInt64)
	}
	s.minProps = intOr(m["minProperties"], -1)
	s.maxProps = intOr(m["maxProperties"], -1)
	if p, ok := m["properties"].(map[string]any); ok {
		s.props = make(map[string]*schema, len(p))
		for name, v := range p {
			s.props[name] = sub(v, ptr+"/properties/"+escapePtr(name))
		}
	}
	if r, ok := m["required"].([]any); ok {
		s.requiredIndex = make(map[string]int, len(r))
		for _, v := range r {
			if n, ok := v.(string); ok {
				if _, dup := s.requiredIndex[n]; !dup {
					s.requiredIndex[n] = len(s.required)
					s.required = append(s.required, n)
				}
			}
		}
	}
	switch a := m["additionalProperties"].(type) {
	case bool:
		s.noAdditional = !a
	case map[string]any:
		s.additional = sub(a, ptr+"/additionalProperties")
	}
	if v, ok := m["items"]; ok {
		s.items = sub(v, ptr+"/items")
	}
	if v, ok := m["prefixItems"]; ok {
		s.prefixItems = subs(v, ptr+"/prefixItems")
	}
	s.minItems = intOr(m["minItems"], -1)
	s.maxItems = intOr(m["maxItems"], -1)
	if v, ok := m["allOf"]; ok {
		s.allOf = subs(v, ptr+"/allOf")
	}
	if v, ok := m["anyOf"]; ok {
		s.anyOf = subs(v, ptr+"/anyOf")
	}
	if v, ok := m["oneOf"]; ok {
		s.oneOf = subs(v, ptr+"/oneOf")
	}
	if v, ok := m["not"]; ok {
		s.not = sub(v, ptr+"/not")
	}
	if ref, ok := m["$ref"].(string); ok && err == nil {
		// $ref beside other keywords (allowed in 2020-12): both apply.
		var r *schema
		r, err = c.ref(ref)
		s.allOf = append(s.allOf, r)
	}
	s.readOnly, _ = m["readOnly"].(bool)
	s.writeOnly, _ = m["writeOnly"].(bool)
	s.needString = s.minLength >= 0 || s.maxLength >= 0 || s.pattern != nil || s.formatCheck != nil
	s.needNumber = s.hasMin || s.hasMax || s.hasExMin || s.hasExMax || s.multipleOf > 0
	if err != nil {
		return nil, err
	}
	return s, nil
}

// bound narrows minimum and maximum to [lo, hi] (an integer format's range).
func (s *schema) bound(lo, hi int64) {
	l, h := new(big.Rat).SetInt64(lo), new(big.Rat).SetInt64(hi)
	if !s.hasMin || s.minR.Cmp(l) < 0 {
		s.minimum, s.minR, s.hasMin = float64(lo), l, true
	}
	if !s.hasMax || s.maxR.Cmp(h) > 0 {
		s.maximum, s.maxR, s.hasMax = float64(hi), h, true
	}
}

func typeFromName(n string) jsonType {
	switch n {
	case "null":
		return tNull
	case "boolean":
		return tBool
	case "integer":
		return tInteger
	case "number":
		return tNumber | tInteger
	case "string":
		return tString
	case "array":
		return tArray
	case "object":
		return tObject
	}
	return 0
}

func intOr(v any, def int) int {
	if f, ok := num(v); ok && f >= 0 && f == math.Trunc(f) {
		return int(f)
	}
	return def
}

func num(v any) (float64, bool) {
	switch t := v.(type) {
	case float64:
		return t, true
	case json.Number:
		f, err := t.Float64()
		return f, err == nil
	}
	return 0, false
}

// fragment writes a JSON pointer ("#/a b/c") as a URI fragment, each
// token percent-encoded, as the jsonschema compiler reads it.
func fragment(ptr string) string {
	toks := strings.Split(strings.TrimPrefix(ptr, "#"), "/")
	for i, t := range toks {
		toks[i] = url.PathEscape(t)
	}
	return "#" + strings.Join(toks, "/")
}

func escapePtr(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// pointer resolves a local JSON pointer ("#/a/b~1c") in root.
func pointer(root any, ref string) (any, bool) {
	if !strings.HasPrefix(ref, "#") {
		return nil, false
	}
	p := strings.TrimPrefix(ref, "#")
	if p == "" {
		return root, true
	}
	if p[0] != '/' {
		return nil, false
	}
	cur := root
	for _, tok := range strings.Split(p[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch t := cur.(type) {
		case map[string]any:
			v, ok := t[tok]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(t) {
				return nil, false
			}
			cur = t[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// upgrade30 rewrites an OpenAPI 3.0 schema tree in place into its 3.1
// (JSON Schema 2020-12) form, so one compiler serves both: nullable: true
// adds "null" to type, boolean exclusiveMinimum/Maximum become numbers, and
// example stays an annotation.
func upgrade30(v any) {
	switch t := v.(type) {
	case map[string]any:
		if n, _ := t["nullable"].(bool); n {
			switch ty := t["type"].(type) {
			case string:
				t["type"] = []any{ty, "null"}
			case nil:
				if e, ok := t["enum"].([]any); ok {
					t["enum"] = append(e, nil)
				}
			}
			if e, ok := t["enum"].([]any); ok && t["type"] != nil {
				has := false
				for _, x := range e {
					has = has || x == nil
				}
				if !has {
					t["enum"] = append(e, nil)
				}
			}
		}
		delete(t, "nullable")
		if b, ok := t["exclusiveMinimum"].(bool); ok {
			delete(t, "exclusiveMinimum")
			if b {
				if m, ok := t["minimum"]; ok {
					t["exclusiveMinimum"] = m
					delete(t, "minimum")
				}
			}
		}
		if b, ok := t["exclusiveMaximum"].(bool); ok {
			delete(t, "exclusiveMaximum")
			if b {
				if m, ok := t["maximum"]; ok {
					t["exclusiveMaximum"] = m
					delete(t, "maximum")
				}
			}
		}
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if k == "example" || k == "examples" || k == "default" || k == "enum" || k == "const" {
				continue
			}
			upgrade30(t[k])
		}
	case []any:
		for _, e := range t {
			upgrade30(e)
		}
	}
}
