package main

import (
	"errors"
	"math"
	"strings"

	"github.com/wasmgate/wasmgate/plugins/internal/jsonx"
)

// config is the plugin configuration:
//
//	{"schema": {...}, "methods": ["POST", "PUT"]}
//
// methods is optional (default: every request is validated).
type config struct {
	schema  *schema
	methods []string
}

// schema is the supported subset of JSON Schema, compiled once at
// configure time.
type schema struct {
	typ                  string // "", "string", "number", "integer", "boolean", "object", "array", "null"
	required             []string
	properties           []property
	additionalProperties bool
	items                *schema
	minLength, maxLength int // -1 when unset
	minItems, maxItems   int
	minimum, maximum     float64 // NaN when unset
	enum                 []jsonx.Value
}

type property struct {
	name   string
	schema *schema
}

func (s *schema) property(name string) *schema {
	for i := range s.properties {
		if s.properties[i].name == name {
			return s.properties[i].schema
		}
	}
	return nil
}

const keywords = "type, required, properties, additionalProperties, items, minLength, maxLength, minItems, maxItems, minimum, maximum, enum"

func parseConfig(data []byte) (*config, error) {
	root, err := jsonx.Parse(data)
	if err != nil {
		return nil, errors.New("the configuration is not JSON: " + err.Error())
	}
	if root.Kind != jsonx.Object {
		return nil, errors.New(`the configuration must be an object like {"schema": {"type": "object", ...}}`)
	}
	c := &config{}
	for _, m := range root.Members {
		switch m.Key {
		case "schema":
			if c.schema, err = compile(&m.Val, "schema"); err != nil {
				return nil, err
			}
		case "methods":
			if m.Val.Kind != jsonx.Array {
				return nil, errors.New(`"methods" must be a list of HTTP methods`)
			}
			for _, it := range m.Val.Items {
				if it.Kind != jsonx.String {
					return nil, errors.New(`"methods" must be a list of HTTP methods`)
				}
				c.methods = append(c.methods, strings.ToUpper(it.Str))
			}
		default:
			return nil, errors.New(`unknown field "` + m.Key + `"; valid: "schema", "methods"`)
		}
	}
	if c.schema == nil {
		return nil, errors.New(`"schema" is required`)
	}
	return c, nil
}

func compile(v *jsonx.Value, at string) (*schema, error) {
	if v.Kind != jsonx.Object {
		return nil, errors.New(at + ": a schema must be an object")
	}
	s := &schema{minLength: -1, maxLength: -1, minItems: -1, maxItems: -1,
		minimum: math.NaN(), maximum: math.NaN(), additionalProperties: true}
	var err error
	for _, m := range v.Members {
		where := at + "." + m.Key
		val := &m.Val
		switch m.Key {
		case "type":
			switch val.Str {
			case "string", "number", "integer", "boolean", "object", "array", "null":
				s.typ = val.Str
			default:
				return nil, errors.New(where + ": must be one of string, number, integer, boolean, object, array, null")
			}
		case "required":
			if val.Kind != jsonx.Array {
				return nil, errors.New(where + ": must be a list of field names")
			}
			for _, it := range val.Items {
				if it.Kind != jsonx.String {
					return nil, errors.New(where + ": must be a list of field names")
				}
				s.required = append(s.required, it.Str)
			}
		case "properties":
			if val.Kind != jsonx.Object {
				return nil, errors.New(where + ": must be an object of field schemas")
			}
			for i := range val.Members {
				p, err := compile(&val.Members[i].Val, where+"."+val.Members[i].Key)
				if err != nil {
					return nil, err
				}
				s.properties = append(s.properties, property{name: val.Members[i].Key, schema: p})
			}
		case "additionalProperties":
			if val.Kind != jsonx.Bool {
				return nil, errors.New(where + ": must be true or false")
			}
			s.additionalProperties = val.Bool
		case "items":
			if s.items, err = compile(val, where); err != nil {
				return nil, err
			}
		case "minLength", "maxLength", "minItems", "maxItems":
			if !val.IsInteger() || val.Num < 0 || val.Num > math.MaxInt32 {
				return nil, errors.New(where + ": must be a non-negative integer")
			}
			n := int(val.Num)
			switch m.Key {
			case "minLength":
				s.minLength = n
			case "maxLength":
				s.maxLength = n
			case "minItems":
				s.minItems = n
			case "maxItems":
				s.maxItems = n
			}
		case "minimum", "maximum":
			if val.Kind != jsonx.Number {
				return nil, errors.New(where + ": must be a number")
			}
			if m.Key == "minimum" {
				s.minimum = val.Num
			} else {
				s.maximum = val.Num
			}
		case "enum":
			if val.Kind != jsonx.Array || len(val.Items) == 0 {
				return nil, errors.New(where + ": must be a non-empty list of values")
			}
			s.enum = val.Items
		case "description", "title", "$schema", "$comment":
		default:
			return nil, errors.New(where + ": unknown keyword; valid: " + keywords)
		}
	}
	return s, nil
}
