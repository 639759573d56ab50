package config

import (
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"
)

// ChainRef is a parsed `- chain:` entry: either the chain's name alone
// (`- chain: base`) or a block that adjusts the chain for this one place:
//
//   - chain: { name: base, exclude: [cors], replace: { rate_limit: {...} } }
//
// Exclude drops every filter of the named kinds from the expanded chain;
// Replace puts the given block in the place of the chain's one filter of
// that kind, so the route's own version runs where the chain's would have.
type ChainRef struct {
	Name    string
	Exclude []string
	Replace []ChainReplace // in the order written
}

// ChainReplace is one entry of a chain reference's replace block.
type ChainReplace struct {
	Kind string
	Node *yaml.Node
}

const chainRefShape = `a chain entry is "- chain: NAME" or "- chain: { name: NAME, exclude: [KIND, ...], replace: { KIND: {...} } }"`

// parseChainRef reads the value of a `- chain:` entry. Problems are
// returned as field paths relative to the entry's "chain" key.
func parseChainRef(n *yaml.Node) (ChainRef, []fieldError) {
	n = followAlias(n)
	var ref ChainRef
	if n == nil || isNull(n) {
		return ref, []fieldError{{field: "", msg: chainRefShape}}
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Value == "" {
			return ref, []fieldError{{field: "", msg: chainRefShape}}
		}
		ref.Name = n.Value
		return ref, nil
	case yaml.MappingNode:
	default:
		return ref, []fieldError{{field: "", msg: chainRefShape + "; got " + describe(n)}}
	}
	var problems []fieldError
	ps, dups := mappingPairs(n)
	for _, d := range dups {
		problems = append(problems, fieldError{field: JoinKey("", d.key), msg: d.msg})
	}
	for _, p := range ps {
		v := followAlias(p.value)
		switch p.key.Value {
		case "name":
			if v.Kind != yaml.ScalarNode || isNull(v) || v.Value == "" {
				problems = append(problems, fieldError{field: "name", msg: "the name of a filter chain, like \"name: base\""})
				continue
			}
			ref.Name = v.Value
		case "exclude":
			if v.Kind != yaml.SequenceNode {
				problems = append(problems, fieldError{field: "exclude", msg: "a list of filter kinds, like \"exclude: [cors]\"; got " + describe(v)})
				continue
			}
			for i, item := range v.Content {
				item = followAlias(item)
				if item.Kind != yaml.ScalarNode || item.Value == "" {
					problems = append(problems, fieldError{field: JoinIndex("exclude", i), msg: "a filter kind, like cors; got " + describe(item)})
					continue
				}
				ref.Exclude = append(ref.Exclude, item.Value)
			}
		case "replace":
			if v.Kind != yaml.MappingNode {
				problems = append(problems, fieldError{field: "replace", msg: "a map of filter kind to its block, like \"replace: { rate_limit: { rate: 500/s } }\"; got " + describe(v)})
				continue
			}
			rps, dups := mappingPairs(v)
			for _, d := range dups {
				problems = append(problems, fieldError{field: JoinKey("replace", d.key), msg: d.msg})
			}
			for _, rp := range rps {
				block := followAlias(rp.value)
				if isNull(block) {
					block = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: block.Line, Column: block.Column}
				}
				ref.Replace = append(ref.Replace, ChainReplace{Kind: rp.key.Value, Node: block})
			}
		default:
			msg := fmt.Sprintf("unknown field %q; valid: name, exclude, replace", p.key.Value)
			if s := Closest(p.key.Value, []string{"name", "exclude", "replace"}); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			problems = append(problems, fieldError{field: JoinKey("", p.key.Value), msg: msg})
		}
	}
	if ref.Name == "" && len(problems) == 0 {
		problems = append(problems, fieldError{field: "", msg: "the block needs name: the filter chain it includes"})
	}
	return ref, problems
}

// ExpandedFilter is one filter of a route as its chain runs it, `- chain:`
// entries expanded in place.
type ExpandedFilter struct {
	Spec FilterSpec // Node is the route's replacement block where one replaced the chain's
	// Field is the path of the filter's block from the document root, where
	// its errors belong: inside filter_chains for a chain's filter, so an
	// error there is reported once, whatever the number of routes using it.
	Field string
}

// ExpandFilters expands a filters list at base (routes[2].filters or
// filter_chains.NAME): `- chain:` entries are replaced in place by the
// chain's filters, less those excluded, with replacements in place of
// those replaced. It assumes a validated config: unknown chains, cycles and
// malformed entries are skipped (validation reports them).
func (c *Config) ExpandFilters(specs []FilterSpec, base string) []ExpandedFilter {
	return c.expand(specs, base, map[string]bool{})
}

func (c *Config) expand(specs []FilterSpec, base string, seen map[string]bool) []ExpandedFilter {
	var out []ExpandedFilter
	for j, spec := range specs {
		field := JoinIndex(base, j)
		if spec.Name != "chain" {
			out = append(out, ExpandedFilter{Spec: spec, Field: JoinKey(field, spec.Name)})
			continue
		}
		ref, problems := parseChainRef(spec.Node)
		chain, ok := c.FilterChains[ref.Name]
		if len(problems) > 0 || !ok || seen[ref.Name] {
			continue
		}
		seen[ref.Name] = true
		inner := c.expand(chain, JoinKey("filter_chains", ref.Name), seen)
		delete(seen, ref.Name)
		for _, f := range inner {
			if slices.Contains(ref.Exclude, f.Spec.Name) {
				continue
			}
			if i := slices.IndexFunc(ref.Replace, func(r ChainReplace) bool { return r.Kind == f.Spec.Name }); i >= 0 {
				r := ref.Replace[i]
				f = ExpandedFilter{
					Spec:  FilterSpec{Name: r.Kind, Node: r.Node, Line: r.Node.Line},
					Field: JoinKey(JoinKey(field, "chain")+".replace", r.Kind),
				}
			}
			out = append(out, f)
		}
	}
	return out
}

// chainKinds are the filter kinds of a chain, expanded, each with its count.
func (c *Config) chainKinds(name string) map[string]int {
	kinds := map[string]int{}
	for _, f := range c.ExpandFilters(c.FilterChains[name], JoinKey("filter_chains", name)) {
		kinds[f.Spec.Name]++
	}
	return kinds
}

// checkChainRef validates a `- chain:` entry at p (the entry's path): its
// shape, that the chain exists, and that what it excludes or replaces is
// in the chain.
func (v *Validator) checkChainRef(p string, f FilterSpec) {
	at := p + ".chain"
	ref, problems := parseChainRef(f.Node)
	for _, pr := range problems {
		v.Errorf(joinPath(at, pr.field), "%s", pr.msg)
	}
	if len(problems) > 0 {
		return
	}
	valid := sortedKeys(v.c.FilterChains)
	_, exists := v.c.FilterChains[ref.Name]
	if !exists {
		msg := fmt.Sprintf("unknown filter chain %q; valid chains: %s", ref.Name, validList(valid))
		if s := Closest(ref.Name, valid); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		field := at
		if f.Node.Kind == yaml.MappingNode {
			field = at + ".name"
		}
		v.Errorf(field, "%s", msg)
		return
	}
	if len(ref.Exclude) == 0 && len(ref.Replace) == 0 {
		return
	}
	if v.chainOnCycle(ref.Name) {
		return // reported by chains(); its kinds cannot be listed
	}
	kinds := v.c.chainKinds(ref.Name)
	names := sortedKeys(kinds)
	missing := func(field, kind, verb string) {
		msg := fmt.Sprintf("filter chain %q has no %s filter to %s; its filters: %s", ref.Name, kind, verb, validList(names))
		if s := Closest(kind, names); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		v.Errorf(field, "%s", msg)
	}
	for i, k := range ref.Exclude {
		if kinds[k] == 0 {
			missing(JoinIndex(at+".exclude", i), k, "exclude")
		}
	}
	for _, r := range ref.Replace {
		field := JoinKey(at+".replace", r.Kind)
		switch {
		case r.Kind == "chain":
			v.Errorf(field, "a chain cannot be replaced, only the filters in it; exclude its filters or use another chain")
		case slices.Contains(ref.Exclude, r.Kind):
			v.Errorf(field, "%s is both excluded and replaced; keep one", r.Kind)
		case kinds[r.Kind] == 0:
			missing(field, r.Kind, "replace")
		case kinds[r.Kind] > 1:
			v.Errorf(field, "filter chain %q has %d %s filters, so which one to replace is unclear; exclude %s and add the ones this route needs after the chain", ref.Name, kinds[r.Kind], r.Kind, r.Kind)
		}
	}
}

// chainOnCycle reports whether name reaches itself through its chain entries.
func (v *Validator) chainOnCycle(name string) bool {
	seen := map[string]bool{}
	var reach func(n string) bool
	reach = func(n string) bool {
		for _, f := range v.c.FilterChains[n] {
			if f.Name != "chain" {
				continue
			}
			ref, problems := parseChainRef(f.Node)
			if len(problems) > 0 {
				continue
			}
			if ref.Name == name {
				return true
			}
			if !seen[ref.Name] {
				seen[ref.Name] = true
				if reach(ref.Name) {
					return true
				}
			}
		}
		return false
	}
	return reach(name)
}

// chainRefName is the chain a well-formed `- chain:` entry names.
func chainRefName(f FilterSpec) (string, bool) {
	if f.Name != "chain" {
		return "", false
	}
	ref, problems := parseChainRef(f.Node)
	if len(problems) > 0 || ref.Name == "" {
		return "", false
	}
	return ref.Name, true
}
