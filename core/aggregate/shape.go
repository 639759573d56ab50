package aggregate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Results stay json.RawMessage from the backend to the client: only the
// levels a call selects, filters or merges are decoded, and only one level
// deep, so a result placed whole is validated and copied, never rebuilt.

// walk returns the value at path in doc: object fields by name, list
// elements by index.
func walk(doc json.RawMessage, path []string) (json.RawMessage, error) {
	v := doc
	for i, seg := range path {
		at := strings.Join(path[:i], ".")
		if at == "" {
			at = "the result"
		}
		switch kind(v) {
		case '{':
			var m map[string]json.RawMessage
			if err := json.Unmarshal(v, &m); err != nil {
				return nil, err
			}
			next, ok := m[seg]
			if !ok {
				return nil, fmt.Errorf("%s has no field %q", at, seg)
			}
			v = next
		case '[':
			n, err := strconv.Atoi(seg)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("%s is a list; %q is not an index", at, seg)
			}
			var l []json.RawMessage
			if err := json.Unmarshal(v, &l); err != nil {
				return nil, err
			}
			if n >= len(l) {
				return nil, fmt.Errorf("%s has %d elements; no index %d", at, len(l), n)
			}
			v = l[n]
		default:
			return nil, fmt.Errorf("%s is not an object or a list", at)
		}
	}
	return v, nil
}

// kind is the first byte of a JSON value: '{', '[', '"', 'n', 't', 'f' or a digit.
func kind(v json.RawMessage) byte {
	if len(v) == 0 {
		return 0
	}
	return v[0]
}

// fieldShape filters and renames an object's fields, compiled once.
type fieldShape struct {
	allow  []string // sorted; nil: every field
	deny   []string // sorted
	rename map[string]string
}

func (s *fieldShape) active() bool { return s.allow != nil || s.deny != nil || len(s.rename) > 0 }

func (s *fieldShape) keep(name string) bool {
	if s.allow != nil {
		_, ok := slices.BinarySearch(s.allow, name)
		return ok
	}
	_, denied := slices.BinarySearch(s.deny, name)
	return !denied
}

// apply shapes an object, or each object of a list; other values pass.
func (s *fieldShape) apply(v json.RawMessage) (json.RawMessage, error) {
	switch kind(v) {
	case '{':
		fs, err := fields(v)
		if err != nil {
			return nil, err
		}
		return appendObject(nil, s.shapeFields(fs)), nil
	case '[':
		var l []json.RawMessage
		if err := json.Unmarshal(v, &l); err != nil {
			return nil, err
		}
		out := make([]byte, 0, len(v))
		out = append(out, '[')
		for i, e := range l {
			if i > 0 {
				out = append(out, ',')
			}
			if kind(e) == '{' {
				fs, err := fields(e)
				if err != nil {
					return nil, err
				}
				out = appendObject(out, s.shapeFields(fs))
			} else {
				out = append(out, e...)
			}
		}
		return append(out, ']'), nil
	}
	return v, nil
}

func (s *fieldShape) shapeFields(fs []kv) []kv {
	out := fs[:0]
	for _, f := range fs {
		if !s.keep(f.key) {
			continue
		}
		if to, ok := s.rename[f.key]; ok {
			f.key = to
		} else if s.renamedTo(f.key) {
			continue // a renamed field takes its place
		}
		out = append(out, f)
	}
	if len(s.rename) > 0 {
		slices.SortFunc(out, func(a, b kv) int { return strings.Compare(a.key, b.key) })
	}
	return out
}

func (s *fieldShape) renamedTo(name string) bool {
	for _, to := range s.rename {
		if to == name {
			return true
		}
	}
	return false
}

// kv is one field of an object.
type kv struct {
	key string
	val json.RawMessage
}

// fields decodes one level of an object, sorted by key (JSON objects are
// unordered; sorting makes the output stable).
func fields(v json.RawMessage) ([]kv, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil {
		return nil, err
	}
	out := make([]kv, 0, len(m))
	for k, v := range m {
		out = append(out, kv{k, v})
	}
	slices.SortFunc(out, func(a, b kv) int { return strings.Compare(a.key, b.key) })
	return out, nil
}

func appendObject(b []byte, fs []kv) []byte {
	b = append(b, '{')
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, f.key)
		b = append(b, ':')
		b = append(b, f.val...)
	}
	return append(b, '}')
}

// appendString appends s as a JSON string. Keys come from decoded JSON, so
// they are valid UTF-8; only quotes, backslashes and controls are escaped.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// errNotJSON wraps the decoder's complaint about a backend body.
var errNotJSON = errors.New("the body is not JSON")

// checkJSON validates a whole body and trims the whitespace around it.
func checkJSON(body []byte) (json.RawMessage, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: it is empty", errNotJSON)
	}
	if !json.Valid(body) {
		var v any
		err := json.Unmarshal(body, &v) // only for its description of the problem
		return nil, fmt.Errorf("%w: %v", errNotJSON, err)
	}
	return body, nil
}
