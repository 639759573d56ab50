package jwt

import (
	"maps"
	"slices"
	"strings"

	"github.com/wasmgate/wasmgate/core/filter"
)

// Requirement says on the portal what token a caller needs: where it goes,
// who must have issued it, for whom, with which scopes and claims. Never
// the keys.
func (f *Filter) Requirement() filter.Requirement { return f.doc }

func (c *Config) requirement(algs []string) filter.Requirement {
	header, bearer, cookie, query := c.From.places()
	var where string
	switch {
	case bearer:
		where = "Authorization: Bearer <token>"
	case header != "":
		where = "header " + header
	case cookie != "":
		where = "cookie " + cookie
	case query != "":
		where = "query parameter " + query
	}
	r := filter.Requirement{Kind: filter.RequiresAuth, Title: "JWT", Details: []filter.Detail{{Label: "Token in", Value: where}}}
	add := func(label, value string) { r.Details = append(r.Details, filter.Detail{Label: label, Value: value}) }
	if c.AllowAnyIssuer {
		add("Issuer", "any")
	} else if c.Issuer != "" {
		add("Issuer", c.Issuer)
	}
	if c.AllowAnyAudience {
		add("Audience", "any")
	} else if len(c.Audiences) > 0 {
		add("Audience", strings.Join(c.Audiences, " or "))
	}
	if len(c.Scopes) > 0 {
		add("Scopes", strings.Join(c.Scopes, " "))
	}
	for _, name := range slices.Sorted(maps.Keys(c.Claims)) {
		add("Claim "+name, strings.Join(c.Claims[name], " or "))
	}
	add("Algorithms", strings.Join(algs, ", "))
	if c.Anonymous != "" {
		add("Optional", "without a token, limited to anonymous access")
	}
	return r
}

var _ filter.Documented = (*Filter)(nil)
