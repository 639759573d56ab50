package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// RoutesOptions shape the routes Routes writes.
type RoutesOptions struct {
	Upstream string // the upstream every route forwards to (required)
	// SpecPath is how the generated openapi filters name the document
	// (as given on the command line; relative paths resolve against the
	// config file that holds them).
	SpecPath string
	BasePath string // in place of the servers' paths, as the filter's base_path
	// NoFilter leaves the openapi filter out of the routes.
	NoFilter bool
}

// Routes writes a routes: section for a document's operations, one route
// per path (its methods those the document defines), each validating
// with the openapi filter: a starting point to edit, as the importers of
// KrakenD and Kong are.
func Routes(name string, data []byte, o RoutesOptions) ([]byte, error) {
	if o.Upstream == "" {
		return nil, fmt.Errorf("an upstream is required")
	}
	sp, err := compileSpec(name, data, compileOptions{BasePath: o.BasePath})
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Routes for %s, from %s (wasmgate openapi routes).\n", sp.title, name)
	fmt.Fprintf(&b, "# Review them: names, matchers, and the filters each route needs (auth, rate limits).\n")
	b.WriteString("routes:\n")
	base := sp.firstBase
	used := map[string]int{}
	// Document order is lost in the JSON tree; paths come sorted.
	byTemplate := map[string]*pathEntry{}
	var order []string
	for _, pe := range sp.paths {
		byTemplate[pe.template] = pe
		order = append(order, pe.template)
	}
	sort.Strings(order)
	for _, tmpl := range order {
		pe := byTemplate[tmpl]
		var methods, ids []string
		for _, op := range sp.ops {
			if op.template == tmpl {
				methods = append(methods, op.method)
				ids = append(ids, op.id)
			}
		}
		if len(methods) == 0 {
			continue
		}
		rname := routeName(tmpl)
		if n := used[rname]; n > 0 {
			rname = fmt.Sprintf("%s-%d", rname, n+1)
		}
		used[rname]++
		full := base + tmpl
		fmt.Fprintf(&b, "  # %s\n", strings.Join(ids, ", "))
		fmt.Fprintf(&b, "  - name: %s\n", q(rname))
		if partial(pe) {
			fmt.Fprintf(&b, "    match: { regex: %s, methods: [%s] }\n", q(templateRegex(full)), strings.Join(methods, ", "))
		} else {
			fmt.Fprintf(&b, "    match: { path: %s, methods: [%s] }\n", q(full), strings.Join(methods, ", "))
		}
		if !o.NoFilter {
			fmt.Fprintf(&b, "    filters:\n      - openapi: { spec: %s", q(o.SpecPath))
			if o.BasePath != "" {
				fmt.Fprintf(&b, ", base_path: %s", q(o.BasePath))
			}
			b.WriteString(" }\n")
		}
		fmt.Fprintf(&b, "    upstream: %s\n", q(o.Upstream))
	}
	return b.Bytes(), nil
}

// partial reports whether a template has a parameter that is not a whole
// segment ("/reports/{name}.csv"), which route paths cannot express.
func partial(pe *pathEntry) bool {
	for _, s := range pe.segs {
		if s.param && (s.prefix != "" || s.suffix != "") {
			return true
		}
	}
	return false
}

var paramRE = regexp.MustCompile(`\{[^}]*\}`)

func templateRegex(t string) string {
	parts := paramRE.Split(t, -1)
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return "^" + strings.Join(parts, "[^/]+") + "$"
}

func routeName(tmpl string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(tmpl) {
		switch {
		case 'a' <= r && r <= 'z' || '0' <= r && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	s := strings.TrimSuffix(b.String(), "-")
	if s == "" {
		return "root"
	}
	return s
}

// q quotes a string for YAML (a JSON string is a YAML scalar).
func q(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
