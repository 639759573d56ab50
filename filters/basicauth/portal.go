package basicauth

import "github.com/wasmgate/wasmgate/core/filter"

// Requirement says on the portal that the route takes HTTP Basic.
func (f *Filter) Requirement() filter.Requirement { return f.doc }

func (c *Config) requirement(realm string) filter.Requirement {
	r := filter.Requirement{Kind: filter.RequiresAuth, Title: "HTTP Basic", Details: []filter.Detail{
		{Label: "Header", Value: "Authorization: Basic"},
		{Label: "Realm", Value: realm},
	}}
	if c.Anonymous != "" {
		r.Details = append(r.Details, filter.Detail{Label: "Optional", Value: "without credentials, limited to anonymous access"})
	}
	return r
}

var _ filter.Documented = (*Filter)(nil)
