package portal

import (
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/wasmgate/wasmgate/core/filter"
)

// API is one published API as the page shows it.
type API struct {
	Name        string // in PREFIX/openapi/NAME.json
	Anchor      string // the page's id for it
	Title       string
	NavTitle    string // the title, with the name when two APIs share it
	Version     string
	OpenAPI     string // the document's openapi version
	Summary     string
	Description string
	Servers     []string
	Groups      []*Group
	Operations  int
	Routes      []*Route // the gateway routes that serve it
	Auth        []filter.Requirement
	Deprecated  bool // a route serving it is deprecated
}

// Group is the operations under one tag.
type Group struct {
	Name        string
	Description string
	Operations  []*Operation
}

// Operation is one method on one path.
type Operation struct {
	Anchor      string
	Method      string // lower case, as in the document
	Path        string
	Summary     string
	Description string
	OperationID string
	Deprecated  bool
	Params      []*Param
	Body        *Body
	Responses   []*Reply
	// Security lists the document's security requirement names; the
	// gateway's own auth is on the API's routes.
	Security []string
}

// Param is a path, query, header or cookie parameter.
type Param struct {
	Name        string
	In          string
	Description string
	Required    bool
	Deprecated  bool
	Schema      *Schema
	Example     string
}

// Body is an operation's request body.
type Body struct {
	Description string
	Required    bool
	Contents    []*Content
}

// Content is one media type of a body.
type Content struct {
	MediaType string
	Schema    *Schema
	Example   string // pretty JSON, or the text as given
}

// Reply is one response of an operation.
type Reply struct {
	Status      string
	Description string
	Headers     []*Param
	Contents    []*Content
}

// Class is the status class for the page's colours: "2xx", "4xx"...
func (r *Reply) Class() string {
	if len(r.Status) == 3 && r.Status[0] >= '1' && r.Status[0] <= '5' {
		return r.Status[:1] + "xx"
	}
	return "default"
}

var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// buildAPI makes the page's model of one document.
func buildAPI(name string, doc *Document) *API {
	root := doc.root
	info, _ := root["info"].(map[string]any)
	a := &API{
		Name:        name,
		Anchor:      "api-" + slug(name),
		Title:       str(info["title"]),
		Version:     str(info["version"]),
		OpenAPI:     str(root["openapi"]),
		Summary:     str(info["summary"]),
		Description: str(info["description"]),
	}
	for _, s := range list(root["servers"]) {
		if sm, ok := s.(map[string]any); ok && str(sm["url"]) != "" {
			a.Servers = append(a.Servers, str(sm["url"]))
		}
	}
	groups := map[string]*Group{}
	var order []string
	for _, t := range list(root["tags"]) {
		if tm, ok := t.(map[string]any); ok && str(tm["name"]) != "" {
			n := str(tm["name"])
			if groups[n] == nil {
				groups[n] = &Group{Name: n, Description: str(tm["description"])}
				order = append(order, n)
			}
		}
	}
	paths, _ := root["paths"].(map[string]any)
	pathNames := make([]string, 0, len(paths))
	for p := range paths {
		pathNames = append(pathNames, p)
	}
	sort.Strings(pathNames)
	anchors := map[string]int{}
	for _, p := range pathNames {
		item, _ := resolve(root, paths[p]).(map[string]any)
		if item == nil {
			continue
		}
		for _, method := range methods {
			om, ok := resolve(root, item[method]).(map[string]any)
			if !ok {
				continue
			}
			op := buildOperation(root, p, method, item, om)
			// "/a/{b}" and "/a/b" slug alike: number the later ones.
			base := a.Anchor + "-" + method + "-" + slug(p)
			op.Anchor = base
			if n := anchors[base]; n > 0 {
				op.Anchor = base + "-" + strconv.Itoa(n+1)
			}
			anchors[base]++
			a.Operations++
			tags := []string{}
			for _, t := range list(om["tags"]) {
				if t, ok := t.(string); ok && t != "" && !slices.Contains(tags, t) {
					tags = append(tags, t)
				}
			}
			if len(tags) == 0 {
				tags = []string{"default"}
			}
			// An operation under several tags is listed under the first:
			// one anchor per operation, so links and tests find it once.
			t := tags[0]
			if groups[t] == nil {
				groups[t] = &Group{Name: t}
				order = append(order, t)
			}
			groups[t].Operations = append(groups[t].Operations, op)
		}
	}
	for _, n := range order {
		if g := groups[n]; len(g.Operations) > 0 {
			a.Groups = append(a.Groups, g)
		}
	}
	return a
}

func buildOperation(root map[string]any, path, method string, item, om map[string]any) *Operation {
	op := &Operation{
		Method:      method,
		Path:        path,
		Summary:     str(om["summary"]),
		Description: str(om["description"]),
		OperationID: str(om["operationId"]),
		Deprecated:  om["deprecated"] == true,
	}
	// Parameters: the path item's, overridden by the operation's of the
	// same name and location (OpenAPI 3, Path Item Object).
	var params []*Param
	index := map[string]int{}
	for _, src := range [][]any{list(item["parameters"]), list(om["parameters"])} {
		for _, raw := range src {
			pm, _ := resolve(root, raw).(map[string]any)
			if pm == nil {
				continue
			}
			p := buildParam(root, str(pm["name"]), pm)
			p.In = str(pm["in"])
			if p.In == "path" {
				p.Required = true
			}
			key := p.In + "\x00" + p.Name
			if i, ok := index[key]; ok {
				params[i] = p
				continue
			}
			index[key] = len(params)
			params = append(params, p)
		}
	}
	inOrder := map[string]int{"path": 0, "query": 1, "header": 2, "cookie": 3}
	sort.SliceStable(params, func(i, j int) bool { return inOrder[params[i].In] < inOrder[params[j].In] })
	op.Params = params

	if rb, ok := resolve(root, om["requestBody"]).(map[string]any); ok {
		op.Body = &Body{
			Description: str(rb["description"]),
			Required:    rb["required"] == true,
			Contents:    contents(root, rb["content"], true),
		}
	}
	responses, _ := om["responses"].(map[string]any)
	codes := make([]string, 0, len(responses))
	for c := range responses {
		codes = append(codes, c)
	}
	sort.Slice(codes, func(i, j int) bool { // numbers first, "default" last
		return (codes[i] == "default") != (codes[j] == "default") && codes[j] == "default" ||
			(codes[i] == "default") == (codes[j] == "default") && codes[i] < codes[j]
	})
	for _, c := range codes {
		rm, _ := resolve(root, responses[c]).(map[string]any)
		if rm == nil {
			continue
		}
		r := &Reply{Status: c, Description: str(rm["description"]), Contents: contents(root, rm["content"], false)}
		hs, _ := rm["headers"].(map[string]any)
		names := make([]string, 0, len(hs))
		for n := range hs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if hm, ok := resolve(root, hs[n]).(map[string]any); ok {
				h := buildParam(root, n, hm)
				h.In = "header"
				r.Headers = append(r.Headers, h)
			}
		}
		op.Responses = append(op.Responses, r)
	}
	sec := om["security"]
	if sec == nil {
		sec = root["security"]
	}
	for _, req := range list(sec) {
		rm, _ := req.(map[string]any)
		names := make([]string, 0, len(rm))
		for n, scopes := range rm {
			if sc := list(scopes); len(sc) > 0 {
				parts := make([]string, 0, len(sc))
				for _, s := range sc {
					parts = append(parts, str(s))
				}
				n += " (" + strings.Join(parts, ", ") + ")"
			}
			names = append(names, n)
		}
		sort.Strings(names)
		if len(names) == 0 {
			names = []string{"none"}
		}
		op.Security = append(op.Security, strings.Join(names, " + "))
	}
	return op
}

func buildParam(root map[string]any, name string, pm map[string]any) *Param {
	b := &schemaBuilder{root: root, request: true}
	p := &Param{
		Name:        name,
		Description: str(pm["description"]),
		Required:    pm["required"] == true,
		Deprecated:  pm["deprecated"] == true,
	}
	raw := pm["schema"]
	if raw == nil { // a parameter may give content instead of schema
		if cm, ok := pm["content"].(map[string]any); ok {
			for _, mt := range cm {
				if mm, ok := mt.(map[string]any); ok {
					raw = mm["schema"]
				}
				break
			}
		}
	}
	if raw != nil {
		p.Schema = b.schema(raw, nil)
	}
	if ex, ok := pm["example"]; ok {
		p.Example = compactJSON(ex)
	} else if exs, ok := pm["examples"].(map[string]any); ok {
		if v, ok := firstExample(root, exs); ok {
			p.Example = compactJSON(v)
		}
	} else if p.Schema != nil && p.Schema.Example != "" {
		p.Example = p.Schema.Example
	}
	return p
}

// contents lists a body's media types with their schema and an example:
// the document's own (example, then the first of examples), else one made
// from the schema.
func contents(root map[string]any, raw any, request bool) []*Content {
	cm, _ := raw.(map[string]any)
	types := make([]string, 0, len(cm))
	for t := range cm {
		types = append(types, t)
	}
	sort.Strings(types)
	var out []*Content
	for _, t := range types {
		mm, _ := cm[t].(map[string]any)
		c := &Content{MediaType: t}
		b := &schemaBuilder{root: root, request: request}
		if mm != nil && mm["schema"] != nil {
			c.Schema = b.schema(mm["schema"], nil)
		}
		var ex any
		var have bool
		if mm != nil {
			if ex, have = mm["example"]; !have {
				if exs, ok := mm["examples"].(map[string]any); ok {
					ex, have = firstExample(root, exs)
				}
			}
			if !have && mm["schema"] != nil {
				ex = b.synthesize(mm["schema"], nil)
				have = ex != nil
			}
		}
		if have {
			if s, ok := ex.(string); ok && !strings.Contains(t, "json") {
				c.Example = s
			} else {
				c.Example = prettyJSON(ex)
			}
		}
		out = append(out, c)
	}
	return out
}

// firstExample is the value of the first (by name) Example Object.
func firstExample(root map[string]any, exs map[string]any) (any, bool) {
	names := make([]string, 0, len(exs))
	for n := range exs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if em, ok := resolve(root, exs[n]).(map[string]any); ok {
			if v, ok := em["value"]; ok {
				return v, true
			}
		}
	}
	return nil, false
}

// resolve follows a chain of local $refs (a parameter, a response, a path
// item), at most a few deep.
func resolve(root map[string]any, v any) any {
	for range 8 {
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return v
		}
		if v, ok = pointer(root, ref); !ok {
			return nil
		}
	}
	return nil
}

var unslug = regexp.MustCompile(`[^a-z0-9]+`)

func slug(s string) string {
	return strings.Trim(unslug.ReplaceAllString(strings.ToLower(s), "-"), "-")
}
