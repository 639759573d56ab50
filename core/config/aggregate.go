package config

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// Aggregate is a route target that answers one client request with several
// backend calls, run concurrently (a call waits only for the calls it names
// in After), and merges their JSON results into one JSON object.
//
//	aggregate:
//	  max_body: 1MiB
//	  calls:
//	    - { name: profile, upstream: users, path: "/users/{id}", as: profile }
//	    - { upstream: orders, path: "/orders?user={profile.id}", after: profile,
//	        select: data.items, allow: [id, total], as: orders, required: false }
type Aggregate struct {
	Calls []AggregateCall `yaml:"calls"`
	// MaxBody caps each backend body read and the merged response
	// (default 1MiB); a larger one fails the call, or the whole response.
	MaxBody Size `yaml:"max_body"`
}

// AggregateCall is one backend call of an aggregate and where its result goes.
type AggregateCall struct {
	// Name identifies the call in After, in {name.field} placeholders, in
	// errors and in the partial marker. Default: As, else Group, else Upstream.
	Name     string `yaml:"name"`
	Upstream string `yaml:"upstream"` // required: a name from upstreams
	Method   string `yaml:"method"`   // default GET; calls send no body
	// Path is the request path and query, a template: {param} (route
	// parameters), {query.x}, {header.X}, {claim.sub}, {call.field.sub} (a
	// field of an earlier call's result; the call must be in After), and the
	// filter.Template names. Values (route parameters decoded first) are
	// escaped for where they stand: one path segment, or a query part; a
	// path value that is empty, "." or ".." fails the call (400).
	Path string `yaml:"path"`
	// Headers are set on the backend request; values are templates.
	Headers map[string]string `yaml:"headers" redact:"secret"`
	// PassHeaders are copied from the client request (after the route's
	// filters ran) to the backend request.
	PassHeaders []string `yaml:"pass_headers"`
	Timeout     Duration `yaml:"timeout"` // the call alone; 0: only the route's timeout
	// Required (default true) fails the whole response (502; 504 on a
	// timeout; 404 when the backend said 404) when the call fails; an
	// optional call is left out instead and named in X-Wasmgate-Partial and
	// "_partial". Any status but 2xx is a failure.
	Required *bool `yaml:"required"`
	After    Names `yaml:"after"` // calls whose results this one waits for

	// Placement: under As, or (Merge) its object's fields at the top level;
	// Group nests either one level deeper, under that key.
	As    string `yaml:"as"`
	Merge bool   `yaml:"merge"` // the object's fields go to the top level
	Group string `yaml:"group"` // nests the placement one level deeper, under this key
	// Select is a path into the result (data.items, items.0): only that part
	// is placed.
	Select string `yaml:"select"`
	// Allow and Deny filter the fields of the (selected) object, or of each
	// object of a selected list; Rename then renames fields: {old: new}.
	Allow  []string          `yaml:"allow"`
	Deny   []string          `yaml:"deny"`   // fields left out
	Rename map[string]string `yaml:"rename"` // {old: new} field names
}

// IsRequired applies the default: calls are required unless they say not.
func (c *AggregateCall) IsRequired() bool { return c.Required == nil || *c.Required }

// CallName is the call's name with its default applied.
func (c *AggregateCall) CallName() string {
	switch {
	case c.Name != "":
		return c.Name
	case c.As != "":
		return c.As
	case c.Group != "" && c.Merge:
		return c.Group
	}
	return c.Upstream
}

// Names is a list of names, also written as one name: `after: profile`.
type Names []string

// UnmarshalNode reads one name or a list of names.
func (ns *Names) UnmarshalNode(n *yaml.Node) error {
	switch {
	case isNull(n):
		return nil
	case n.Kind == yaml.ScalarNode:
		*ns = Names{n.Value}
		return nil
	case n.Kind == yaml.SequenceNode:
		out := make(Names, 0, len(n.Content))
		for i, item := range n.Content {
			if item.Kind != yaml.ScalarNode || isNull(item) {
				return FieldErr(fmt.Sprintf("[%d]", i), "expected a call name, got %s", describe(item))
			}
			out = append(out, item.Value)
		}
		*ns = out
		return nil
	}
	return FieldErr("", "expected a call name or a list of them, got %s", describe(n))
}

// JSONSchema: a name or a list of names.
func (*Names) JSONSchema() map[string]any { return StringOrList() }

// StringOrList is the JSON Schema of a string or a list of strings, the
// shape of Names and of fields like it in filters.
func StringOrList() map[string]any {
	return map[string]any{"anyOf": []any{
		map[string]any{"type": "string"},
		map[string]any{"type": "array", "items": map[string]any{"anyOf": []any{map[string]any{"type": "string"}, schemaEnv}}},
	}}
}
