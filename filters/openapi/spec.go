package openapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/wasmgate/wasmgate/core/portal"
)

// spec is a document compiled for matching and validation: everything a
// request needs is decided here, at load.
type spec struct {
	title string
	json  []byte   // the document as JSON, as the portal publishes it
	bases []string // longest first, as matching tries them
	// firstBase is the first server's path, the one Routes writes.
	firstBase string
	paths     []*pathEntry
	ops       []*operation
}

// compileOptions are the parts of the filter's config that shape a spec.
type compileOptions struct {
	BasePath string   `json:"base_path,omitempty"`
	Include  []string `json:"include,omitempty"`
	Exclude  []string `json:"exclude,omitempty"`
}

var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// compileSpec parses data (YAML or JSON; name is how errors call it) and
// compiles every operation.
func compileSpec(name string, data []byte, opts compileOptions) (*spec, error) {
	doc, err := portal.Parse(name, data)
	if err != nil {
		return nil, err
	}
	var root map[string]any
	if err := json.Unmarshal(doc.JSON, &root); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if v, _ := root["openapi"].(string); strings.HasPrefix(v, "3.0") {
		upgrade30(root)
	}
	info, _ := root["info"].(map[string]any)
	sp := &spec{json: doc.JSON}
	sp.title, _ = info["title"].(string)
	sp.bases = basePaths(root, opts.BasePath)
	sp.firstBase = sp.bases[0]
	sort.SliceStable(sp.bases, func(i, j int) bool { return len(sp.bases[i]) > len(sp.bases[j]) })
	c, err := newCompiler(root)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	include := setOf(opts.Include)
	exclude := setOf(opts.Exclude)
	seen := map[string]bool{}
	paths, _ := root["paths"].(map[string]any)
	for _, tmpl := range sortedKeys(paths) {
		item, _ := paths[tmpl].(map[string]any)
		if ref, ok := item["$ref"].(string); ok {
			t, ok := pointer(root, ref)
			if !ok {
				return nil, fmt.Errorf("%s: paths.%s: $ref %q points to nothing", name, tmpl, ref)
			}
			item, _ = t.(map[string]any)
		}
		pe, err := parseTemplate(tmpl)
		if err != nil {
			return nil, fmt.Errorf("%s: paths.%s: %v", name, tmpl, err)
		}
		pe.ops = map[string]*operation{}
		var allow []string
		for _, m := range methods {
			o, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			ptr := "#/paths/" + escapePtr(tmpl) + "/" + m
			op, err := compileOperation(c, root, item, o, strings.ToUpper(m), tmpl, ptr)
			if err != nil {
				return nil, fmt.Errorf("%s: paths.%s.%s: %v", name, tmpl, m, err)
			}
			op.enforced = (len(include) == 0 || include[op.id]) && !exclude[op.id]
			seen[op.id] = true
			pe.ops[op.method] = op
			sp.ops = append(sp.ops, op)
			allow = append(allow, op.method)
			if op.method == http.MethodGet && item["head"] == nil {
				pe.ops[http.MethodHead] = op
			}
		}
		pe.allow = strings.Join(allow, ", ")
		sp.paths = append(sp.paths, pe)
	}
	for _, id := range append(append([]string{}, opts.Include...), opts.Exclude...) {
		if !seen[id] {
			return nil, fmt.Errorf("%s: the document has no operation %q (operations: include/exclude name operationIds)", name, id)
		}
	}
	sort.SliceStable(sp.paths, func(i, j int) bool { return moreSpecific(sp.paths[i], sp.paths[j]) })
	return sp, nil
}

func setOf(l []string) map[string]bool {
	m := make(map[string]bool, len(l))
	for _, s := range l {
		m[s] = true
	}
	return m
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// basePaths are the path prefixes the API is served under: base_path when
// set, else the path of each server URL ("" when there is none), in the
// document's order.
func basePaths(root map[string]any, override string) []string {
	if override != "" {
		return []string{strings.TrimSuffix(override, "/")}
	}
	var out []string
	servers, _ := root["servers"].([]any)
	for _, s := range servers {
		m, _ := s.(map[string]any)
		raw, _ := m["url"].(string)
		// Server variables: substitute their defaults.
		vars, _ := m["variables"].(map[string]any)
		for k, v := range vars {
			vm, _ := v.(map[string]any)
			def, _ := vm["default"].(string)
			raw = strings.ReplaceAll(raw, "{"+k+"}", def)
		}
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		out = append(out, strings.TrimSuffix(u.Path, "/"))
	}
	if len(out) == 0 {
		out = []string{""}
	}
	return out
}

// operation is one compiled operation.
type operation struct {
	id       string // operationId, or "METHOD /template"
	method   string
	template string
	enforced bool

	params   []*param // path, query, header, cookie
	body     *requestBody
	produces []string             // media types of its documented responses
	resp     map[string]*response // by status: "200", "2XX", "default"
}

type param struct {
	name     string
	in       string // path, query, header, cookie
	key      string // the header's canonical name
	loc      string // "query.limit": where its problems are
	required bool
	schema   *schema
	array    bool // a list: form explode repeats the name, else commas
	explode  bool
	object   bool // object parameters (deepObject) are not checked
	pathIdx  int  // for in: path, which capture
}

type requestBody struct {
	required bool
	content  []media
}

type media struct {
	typ    string // "application/json", "application/*", "*/*"
	json   bool
	schema *schema
}

type response struct {
	content []media
}

func compileOperation(c *compiler, root, item, o map[string]any, method, tmpl, ptr string) (*operation, error) {
	op := &operation{method: method, template: tmpl}
	op.id, _ = o["operationId"].(string)
	if op.id == "" {
		op.id = method + " " + tmpl
	}
	// Path-level parameters apply unless the operation redefines them.
	byKey := map[string]*param{}
	var order []string
	for _, src := range []struct {
		list any
		ptr  string
	}{{item["parameters"], strings.TrimSuffix(ptr, "/"+strings.ToLower(method)) + "/parameters"}, {o["parameters"], ptr + "/parameters"}} {
		list, _ := src.list.([]any)
		for i, raw := range list {
			at := fmt.Sprintf("%s/%d", src.ptr, i)
			m, _ := raw.(map[string]any)
			if ref, ok := m["$ref"].(string); ok {
				t, ok := pointer(root, ref)
				if !ok {
					return nil, fmt.Errorf("parameters: $ref %q points to nothing", ref)
				}
				m, _ = t.(map[string]any)
				at = ref
			}
			p, err := compileParam(c, m, at)
			if err != nil {
				return nil, err
			}
			if p.in == "header" && (p.key == "Accept" || p.key == "Content-Type" || p.key == "Authorization") {
				continue // the specification says to ignore these: they are described elsewhere
			}
			k := p.in + ":" + strings.ToLower(p.name)
			if _, ok := byKey[k]; !ok {
				order = append(order, k)
			}
			byKey[k] = p
		}
	}
	names := templateParams(tmpl)
	for _, k := range order {
		p := byKey[k]
		if p.in == "path" {
			idx := -1
			for i, n := range names {
				if n == p.name {
					idx = i
				}
			}
			if idx < 0 {
				return nil, fmt.Errorf("path parameter %q is not in the path template", p.name)
			}
			p.pathIdx = idx
		}
		op.params = append(op.params, p)
	}
	if rb, ok := o["requestBody"].(map[string]any); ok {
		at := ptr + "/requestBody"
		if ref, ok := rb["$ref"].(string); ok {
			t, ok := pointer(root, ref)
			if !ok {
				return nil, fmt.Errorf("requestBody: $ref %q points to nothing", ref)
			}
			rb, _ = t.(map[string]any)
			at = ref
		}
		op.body = &requestBody{}
		op.body.required, _ = rb["required"].(bool)
		content, err := compileContent(c, rb["content"], at+"/content")
		if err != nil {
			return nil, err
		}
		op.body.content = content
	}
	op.resp = map[string]*response{}
	responses, _ := o["responses"].(map[string]any)
	seenType := map[string]bool{}
	for _, status := range sortedKeys(responses) {
		r, _ := responses[status].(map[string]any)
		at := ptr + "/responses/" + escapePtr(status)
		if ref, ok := r["$ref"].(string); ok {
			t, ok := pointer(root, ref)
			if !ok {
				return nil, fmt.Errorf("responses.%s: $ref %q points to nothing", status, ref)
			}
			r, _ = t.(map[string]any)
			at = ref
		}
		content, err := compileContent(c, r["content"], at+"/content")
		if err != nil {
			return nil, err
		}
		op.resp[strings.ToUpper(status)] = &response{content: content}
		for _, m := range content {
			if !seenType[m.typ] {
				seenType[m.typ] = true
				op.produces = append(op.produces, m.typ)
			}
		}
	}
	return op, nil
}

func compileParam(c *compiler, m map[string]any, at string) (*param, error) {
	p := &param{}
	p.name, _ = m["name"].(string)
	p.in, _ = m["in"].(string)
	p.required, _ = m["required"].(bool)
	if p.name == "" {
		return nil, fmt.Errorf("%s: a parameter without a name", at)
	}
	p.loc = p.in + "." + p.name
	switch p.in {
	case "path":
		p.required = true
	case "query", "cookie":
	case "header":
		p.key = http.CanonicalHeaderKey(p.name)
	default:
		return nil, fmt.Errorf("%s: parameter %q: in: %q; want path, query, header or cookie", at, p.name, p.in)
	}
	style, _ := m["style"].(string)
	explode, hasExplode := m["explode"].(bool)
	if !hasExplode {
		explode = style == "" && (p.in == "query" || p.in == "cookie") || style == "form"
	}
	p.explode = explode
	sv, ok := m["schema"]
	if !ok {
		if content, ok := m["content"].(map[string]any); ok {
			for _, mt := range sortedKeys(content) {
				mm, _ := content[mt].(map[string]any)
				sv = mm["schema"]
				at += "/content/" + escapePtr(mt)
				break
			}
		}
		if sv == nil {
			return p, nil
		}
	} else {
		at += "/schema"
	}
	s, err := c.compile(sv, at)
	if err != nil {
		return nil, err
	}
	p.schema = s
	top := resolveTop(s)
	p.array = top.types == tArray
	p.object = top.types == tObject
	return p, nil
}

// resolveTop looks through a schema that is only an allOf of one $ref.
func resolveTop(s *schema) *schema {
	for s.types == 0 && len(s.allOf) == 1 && s.props == nil {
		s = s.allOf[0]
	}
	return s
}

func compileContent(c *compiler, v any, at string) ([]media, error) {
	content, _ := v.(map[string]any)
	var out []media
	for _, mt := range sortedKeys(content) {
		m, _ := content[mt].(map[string]any)
		// A documented type's parameters ("; charset=utf-8") do not narrow it.
		md := media{typ: mediaType(mt), json: isJSON(mt)}
		if sv, ok := m["schema"]; ok {
			s, err := c.compile(sv, at+"/"+escapePtr(mt)+"/schema")
			if err != nil {
				return nil, err
			}
			md.schema = s
		}
		out = append(out, md)
	}
	// Exact types first, then type/*, then */*.
	sort.SliceStable(out, func(i, j int) bool { return wildness(out[i].typ) < wildness(out[j].typ) })
	return out, nil
}

func wildness(t string) int {
	switch {
	case t == "*/*":
		return 2
	case strings.HasSuffix(t, "/*"):
		return 1
	}
	return 0
}

func isJSON(mt string) bool {
	mt = strings.ToLower(strings.TrimSpace(mt))
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = strings.TrimSpace(mt[:i])
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}
