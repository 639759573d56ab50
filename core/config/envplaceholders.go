package config

import (
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// EnvRef is one environment variable a config reads.
type EnvRef struct {
	Name       string
	Line       int  // of its first reference
	Set        bool // in the environment the config was checked in
	HasDefault bool // every reference gives a ${NAME:-default}
}

// placeholderText stands in for an unset variable: letters only, so a
// host name or a secret accepts it and a number or a URL refuses it, at
// the field that holds it, where the refusal is dropped.
const placeholderText = "placeholder"

// ParsePlaceholders is ParseWithin for a CI without the production
// environment: a ${NAME} that is not set (and has no default) is a
// placeholder. It expands to placeholderText, and what is wrong with the
// value holding it (a malformed URL, a port that is not a number) is not
// reported; everything else is. The config's EnvRefs list every variable
// it reads.
func ParsePlaceholders(file string, data []byte, l Limits) (*Config, error) {
	var (
		refs         map[string]*EnvRef
		placeholders []string
	)
	scan := func(root *yaml.Node) {
		refs, placeholders = envRefs(root, os.LookupEnv)
	}
	lookup := func(name string) (string, bool) {
		if v, ok := os.LookupEnv(name); ok {
			return v, true
		}
		// Not set, yet a value: a default still wins, and a value that
		// needs text gets some, so only what the text must look like goes
		// unchecked (and those problems are at the placeholder's field).
		return placeholderText, false
	}
	c, err := parseScanned(file, data, lookup, l, scan, func(es Errors) Errors { return withoutPlaceholders(es, placeholders) })
	if c != nil {
		c.placeholders = placeholders
		for _, r := range refs {
			c.EnvRefs = append(c.EnvRefs, *r)
		}
		sort.Slice(c.EnvRefs, func(i, j int) bool { return c.EnvRefs[i].Name < c.EnvRefs[j].Name })
	}
	return c, err
}

// WithoutPlaceholders drops the problems found at or inside a value that
// held an unset ${NAME} (ParsePlaceholders); with no placeholders, es.
func (c *Config) WithoutPlaceholders(es Errors) Errors {
	return withoutPlaceholders(es, c.placeholders)
}

func withoutPlaceholders(es Errors, placeholders []string) Errors {
	if len(placeholders) == 0 {
		return es
	}
	var out Errors
	for _, e := range es {
		if !underAny(e.Field, placeholders) {
			out = append(out, e)
		}
	}
	return out
}

func underAny(field string, paths []string) bool {
	for _, p := range paths {
		if field == p || strings.HasPrefix(field, p+".") || strings.HasPrefix(field, p+"[") {
			return true
		}
	}
	return false
}

// envRefs lists the variables referenced below n and the paths of the
// values holding a reference that is unset and has no default.
func envRefs(n *yaml.Node, lookup func(string) (string, bool)) (map[string]*EnvRef, []string) {
	refs := map[string]*EnvRef{}
	var unset []string
	walkScalars(n, "", func(n *yaml.Node, w *scalarWalk) {
		s, placeholder := n.Value, false
		for {
			i := strings.Index(s, "${")
			if i < 0 {
				break
			}
			if i > 0 && s[i-1] == '$' { // "$${" is a literal "${"
				s = s[i+2:]
				continue
			}
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				break
			}
			name, _, hasDef := strings.Cut(s[i+2:i+end], ":-")
			s = s[i+end+1:]
			if !isEnvName(name) {
				continue
			}
			_, set := lookup(name)
			r := refs[name]
			if r == nil {
				r = &EnvRef{Name: name, Line: n.Line, Set: set, HasDefault: true}
				refs[name] = r
			}
			r.HasDefault = r.HasDefault && hasDef
			if !set && !hasDef {
				placeholder = true
			}
		}
		if placeholder {
			unset = append(unset, w.pathText())
		}
	})
	return refs, unset
}
