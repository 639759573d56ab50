package config

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// expandEnv replaces ${NAME} and ${NAME:-default} in every scalar value
// below n, in place, before decoding, so each value keeps its own line.
// Keys are never expanded: the shape of the config comes from the file.
// lookup is os.LookupEnv in production; tests pass their own.
//
// An anchored value is expanded once, where it is written; its aliases see
// the result. A plain (unquoted) value that was expanded is re-typed from
// its new text, so "port: ${PORT}" is a number; a value that expands to
// nothing, quoted or not, is null: the field is left unset.
//
// Every value that took text from the environment is recorded in out, so
// that errors can be scrubbed of it (scrub.go).
func expandEnv(file string, n *yaml.Node, path string, lookup func(string) (string, bool), out *[]expansion) Errors {
	var errs Errors
	walkScalars(n, path, func(n *yaml.Node, w *scalarWalk) {
		if !strings.Contains(n.Value, "$") {
			return
		}
		v, fromEnv, err := expand(n.Value, lookup)
		if err != nil {
			errs = append(errs, &Error{File: file, Line: n.Line, Col: n.Column, Field: w.pathText(), Msg: err.Error()})
			// Leave a null behind so decoding adds no second error here.
			n.Value, n.Tag, n.Style = "", "!!null", 0
			return
		}
		const quoted = yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle | yaml.LiteralStyle | yaml.FoldedStyle
		switch {
		case v == "": // "${TLS_CA:-}": nothing given, so the field is unset
			n.Tag, n.Style = "!!null", 0
		case v != n.Value && n.Style&quoted == 0 && n.Tag == "!!str":
			n.Tag = "" // yaml.v3 resolves an empty tag from the text
		}
		if len(fromEnv) > 0 {
			*out = append(*out, expansion{written: n.Value, value: v, env: fromEnv})
		}
		n.Value = v
	})
	return errs
}

// walkScalars calls f with every scalar value below n; its path from the
// document root (keys are not values: they are never visited) is
// w.path(), built only when asked for: most values never need it.
func walkScalars(n *yaml.Node, base string, f func(n *yaml.Node, w *scalarWalk)) {
	w := &scalarWalk{path: []fieldPath{{base: base}}, f: f}
	w.walk(n)
}

// scalarWalk is walkScalars' state: the path to the value being visited,
// one link per level, in a slice it reuses.
type scalarWalk struct {
	path []fieldPath
	f    func(n *yaml.Node, w *scalarWalk)
}

// pathText is the path of the value being visited.
func (w *scalarWalk) pathText() string {
	for i := 1; i < len(w.path); i++ { // links, as the slice may have moved
		w.path[i].parent = &w.path[i-1]
	}
	return w.path[len(w.path)-1].text()
}

func (w *scalarWalk) walk(n *yaml.Node) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			w.walk(c)
		}
	case yaml.SequenceNode:
		w.path = append(w.path, fieldPath{})
		for i, c := range n.Content {
			w.path[len(w.path)-1] = fieldPath{index: i}
			w.walk(c)
		}
		w.path = w.path[:len(w.path)-1]
	case yaml.MappingNode:
		w.path = append(w.path, fieldPath{})
		for i := 0; i+1 < len(n.Content); i += 2 {
			w.path[len(w.path)-1] = fieldPath{key: n.Content[i].Value, index: -1}
			w.walk(n.Content[i+1])
		}
		w.path = w.path[:len(w.path)-1]
	case yaml.ScalarNode:
		w.f(n, w)
	}
}

// expand substitutes environment references in s. Only "${" and "$$" are
// special, so regexes like "^/v1$" need no escaping. The default is taken
// as written (not expanded again) and, as in the shell's ":-", also
// replaces a variable that is set but empty. fromEnv lists the references
// whose text came from the environment (not from a default).
func expand(s string, lookup func(string) (string, bool)) (_ string, fromEnv []envValue, err error) {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			i++
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i += 2
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", nil, fmt.Errorf("unterminated %q: write ${NAME} or ${NAME:-default}, or $$ for a literal $", s[i:])
			}
			ref := s[i+2 : i+2+end]
			name, def, hasDef := strings.Cut(ref, ":-")
			if !isEnvName(name) {
				return "", nil, fmt.Errorf("bad reference ${%s}: write ${NAME} or ${NAME:-default} (NAME is letters, digits and _, not starting with a digit), or $$ for a literal $", ref)
			}
			v, ok := lookup(name)
			switch {
			case hasDef && (v == "" || !ok): // !ok with a value: a placeholder (envplaceholders.go)
				v = def
			case v != "":
				fromEnv = append(fromEnv, envValue{ref: s[i : i+2+end+1], value: v})
			case !ok:
				return "", nil, fmt.Errorf("environment variable %s is not set; set it, or give a default: ${%s:-default}", name, name)
			}
			b.WriteString(v)
			i += 2 + end + 1
		default:
			b.WriteByte('$')
			i++
		}
	}
	return b.String(), fromEnv, nil
}

func isEnvName(s string) bool {
	for i, r := range s {
		letter := r == '_' || (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z')
		if !letter && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return s != ""
}
