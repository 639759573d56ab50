package main

import (
	"strconv"
	"unicode/utf8"

	"github.com/wasmgate/wasmgate/plugins/internal/jsonx"
)

// violation is the first way a document breaks the schema.
type violation struct {
	field string // dotted path with [i] for array items; "" for the document itself
	msg   string
}

func name(field string) string {
	if field == "" {
		return "the body"
	}
	return `"` + field + `"`
}

func child(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

// validate checks v against s and returns the first violation, or nil.
func validate(s *schema, v *jsonx.Value, field string) *violation {
	if s.typ != "" && !hasType(v, s.typ) {
		return &violation{field, name(field) + " must be " + article(s.typ) + ", not " + article(typeOf(v))}
	}
	if len(s.enum) > 0 {
		found := false
		for i := range s.enum {
			if jsonx.Equal(&s.enum[i], v) {
				found = true
				break
			}
		}
		if !found {
			var list []byte
			for i := range s.enum {
				if i > 0 {
					list = append(list, ", "...)
				}
				list = jsonx.Append(list, &s.enum[i])
			}
			return &violation{field, name(field) + " must be one of " + string(list)}
		}
	}
	switch v.Kind {
	case jsonx.String:
		n := utf8.RuneCountInString(v.Str)
		if s.minLength >= 0 && n < s.minLength {
			return &violation{field, name(field) + " must be at least " + plural(s.minLength, "character") + " long"}
		}
		if s.maxLength >= 0 && n > s.maxLength {
			return &violation{field, name(field) + " must be at most " + plural(s.maxLength, "character") + " long"}
		}
	case jsonx.Number:
		if s.minimum == s.minimum && v.Num < s.minimum { // NaN (unset) never compares equal
			return &violation{field, name(field) + " must be at least " + num(s.minimum)}
		}
		if s.maximum == s.maximum && v.Num > s.maximum {
			return &violation{field, name(field) + " must be at most " + num(s.maximum)}
		}
	case jsonx.Array:
		if s.minItems >= 0 && len(v.Items) < s.minItems {
			return &violation{field, name(field) + " must have at least " + plural(s.minItems, "item")}
		}
		if s.maxItems >= 0 && len(v.Items) > s.maxItems {
			return &violation{field, name(field) + " must have at most " + plural(s.maxItems, "item")}
		}
		if s.items != nil {
			for i := range v.Items {
				if bad := validate(s.items, &v.Items[i], field+"["+strconv.Itoa(i)+"]"); bad != nil {
					return bad
				}
			}
		}
	case jsonx.Object:
		for _, r := range s.required {
			if v.Get(r) == nil {
				f := child(field, r)
				return &violation{f, "missing required field " + name(f)}
			}
		}
		for i := range v.Members {
			m := &v.Members[i]
			f := child(field, m.Key)
			ps := s.property(m.Key)
			if ps == nil {
				if !s.additionalProperties {
					return &violation{f, "unknown field " + name(f)}
				}
				continue
			}
			if bad := validate(ps, &m.Val, f); bad != nil {
				return bad
			}
		}
	}
	return nil
}

func hasType(v *jsonx.Value, typ string) bool {
	if typ == "integer" {
		return v.IsInteger()
	}
	return typeOf(v) == typ || (typ == "number" && v.Kind == jsonx.Number)
}

func typeOf(v *jsonx.Value) string {
	if v.IsInteger() {
		return "integer"
	}
	return v.Kind.String()
}

func article(typ string) string {
	switch typ {
	case "integer", "object", "array":
		return "an " + typ
	case "null":
		return "null"
	}
	return "a " + typ
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
