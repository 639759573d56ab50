package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Field paths name a place in the document: mapping keys joined by dots and
// list indices in brackets, as in routes[2].filters[0].headers. A key that
// is empty or holds '.', '[', ']' or '"' is written quoted: set["X-Foo.bar"].
// Header names with dashes need no quoting.

// Resolve turns an error from a stage after decoding (building a filter or an
// upstream) into positioned Errors. root is the document (Config.Root) and
// base the path of the block that stage worked on. A FieldErr, alone or among
// errors.Join'ed ones, is placed at base joined with its own path; an Error
// or Errors passes through; any other error is placed at base. A path that
// runs past what the document holds (a field left out) gets the position of
// the deepest part that exists.
func Resolve(file string, root *yaml.Node, base string, err error) Errors {
	var out Errors
	resolveInto(&out, file, root, base, err)
	return out
}

func resolveInto(out *Errors, file string, root *yaml.Node, base string, err error) {
	if err == nil {
		return
	}
	field, msg := base, err.Error()
	switch e := err.(type) {
	case *Error:
		*out = append(*out, e)
		return
	case Errors:
		*out = append(*out, e...)
		return
	case interface{ Unwrap() []error }:
		for _, inner := range e.Unwrap() {
			resolveInto(out, file, root, base, inner)
		}
		return
	case *fieldError:
		field, msg = joinPath(base, e.field), e.msg
	default:
		var fe *fieldError
		if errors.As(err, &fe) {
			// Wrapped ("jwks: %w"): keep the wrapper's words, drop the path
			// from the text since the Error names it.
			field = joinPath(base, fe.field)
			msg = strings.Replace(msg, fe.Error(), fe.msg, 1)
		}
	}
	line, col := position(root, field)
	*out = append(*out, &Error{File: file, Line: line, Col: col, Field: field, Msg: msg})
}

// Errorf returns an error about field, a path from the document root, placed
// at that field's line in the config file.
func (c *Config) Errorf(field, format string, args ...any) *Error {
	line, col := position(c.Root, field)
	return &Error{File: c.File, Line: line, Col: col, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Resolve is Resolve for this config's file and document, with values
// from ${ENV} scrubbed from the messages (Scrub).
func (c *Config) Resolve(base string, err error) Errors {
	es := Resolve(c.File, c.Root, base, err)
	if len(es) == 0 {
		return es
	}
	if scrubbed, ok := c.Scrub(es).(Errors); ok {
		return scrubbed
	}
	return es
}

// position finds where path points below n: the key of a last mapping step
// (so "match: at most one of..." points at "match:", not its first child),
// the item itself for a list index, or the deepest node the path reaches.
func position(n *yaml.Node, path string) (line, col int) {
	n = documentContent(n)
	if n == nil {
		return 0, 0
	}
	line, col = n.Line, n.Column
	steps, _ := parsePath(path)
	for _, s := range steps {
		n = followAlias(n)
		var next, at *yaml.Node
		switch {
		case s.isIndex && n.Kind == yaml.SequenceNode && s.index < len(n.Content):
			next, at = n.Content[s.index], n.Content[s.index]
		case !s.isIndex && n.Kind == yaml.MappingNode:
			ps, _ := mappingPairs(n)
			for _, p := range ps {
				if p.key.Kind == yaml.ScalarNode && p.key.Value == s.key {
					next, at = p.value, p.key
					break
				}
			}
		}
		if next == nil {
			break
		}
		n, line, col = next, at.Line, at.Column
	}
	return line, col
}

// pathStep is one step of a field path: a mapping key or a list index.
type pathStep struct {
	key     string
	index   int
	isIndex bool
}

// parsePath splits a field path into steps; ok is false if it is malformed,
// in which case the steps read so far are returned.
func parsePath(p string) (steps []pathStep, ok bool) {
	for i := 0; i < len(p); {
		switch p[i] {
		case '.':
			i++
		case '[':
			if i+1 < len(p) && p[i+1] == '"' {
				q, err := strconv.QuotedPrefix(p[i+1:])
				end := i + 1 + len(q)
				if err != nil || end >= len(p) || p[end] != ']' {
					return steps, false
				}
				key, _ := strconv.Unquote(q)
				steps = append(steps, pathStep{key: key})
				i = end + 1
				continue
			}
			j := strings.IndexByte(p[i:], ']')
			if j < 0 {
				return steps, false
			}
			idx, err := strconv.Atoi(p[i+1 : i+j])
			if err != nil || idx < 0 {
				return steps, false
			}
			steps = append(steps, pathStep{index: idx, isIndex: true})
			i += j + 1
		default:
			j := strings.IndexAny(p[i:], ".[")
			if j < 0 {
				j = len(p) - i
			}
			steps = append(steps, pathStep{key: p[i : i+j]})
			i += j
		}
	}
	return steps, true
}

// JoinKey appends a mapping key to a field path, quoting it when it must
// be: JoinKey("filter_chains", "auth.v2") is filter_chains["auth.v2"].
func JoinKey(base, key string) string {
	if key == "" || strings.ContainsAny(key, `.[]"`) {
		return base + "[" + strconv.Quote(key) + "]"
	}
	if base == "" {
		return key
	}
	return base + "." + key
}

// JoinIndex appends a list index to a path.
func JoinIndex(base string, i int) string {
	return base + "[" + strconv.Itoa(i) + "]"
}

// joinPath appends a relative path ("targets[1].url", "[0]", "") to base.
func joinPath(base, rel string) string {
	switch {
	case rel == "":
		return base
	case base == "" || rel[0] == '[':
		return base + rel
	}
	return base + "." + rel
}

// ReleaseNodes drops the YAML document and the filter entries' nodes once
// a config has been built and is serving: they are needed only to decode
// filters and to place errors, and at 10,000 routes the node tree is half
// the heap the config keeps alive. Errors placed afterwards have no line.
func (c *Config) ReleaseNodes() {
	c.Root = nil
	for i := range c.Routes {
		releaseSpecs(c.Routes[i].Filters)
	}
	for _, specs := range c.FilterChains {
		releaseSpecs(specs)
	}
}

func releaseSpecs(specs []FilterSpec) {
	for i := range specs {
		specs[i].Node = nil
	}
}
