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
	walkScalars(n, path, func(n *yaml.Node, path string) {
		if !strings.Contains(n.Value, "$") {
			return
		}
		v, fromEnv, err := expand(n.Value, lookup)
		if err != nil {
			errs = append(errs, &Error{File: file, Line: n.Line, Col: n.Column, Field: path, Msg: err.Error()})
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

// walkScalars calls f with every scalar value below n and its path from
// the document root (keys are not values: they are never visited).
func walkScalars(n *yaml.Node, path string, f func(n *yaml.Node, path string)) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			walkScalars(c, path, f)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			walkScalars(c, JoinIndex(path, i), f)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			walkScalars(n.Content[i+1], JoinKey(path, n.Content[i].Value), f)
		}
	case yaml.ScalarNode:
		f(n, path)
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
