package apikey

import (
	"net/http"

	"github.com/wasmgate/wasmgate/core/filter"
)

// Requirement says on the portal where a caller sends its key.
func (f *Filter) Requirement() filter.Requirement { return f.doc }

func (c *Config) requirement(header string) filter.Requirement {
	r := filter.Requirement{Kind: filter.RequiresAuth, Title: "API key", Details: []filter.Detail{
		{Label: "Header", Value: http.CanonicalHeaderKey(header)},
	}}
	if c.Query != "" {
		r.Details = append(r.Details, filter.Detail{Label: "or query parameter", Value: c.Query})
	}
	if c.Anonymous != "" {
		r.Details = append(r.Details, filter.Detail{Label: "Optional", Value: "without a key, limited to anonymous access"})
	}
	return r
}

var _ filter.Documented = (*Filter)(nil)
