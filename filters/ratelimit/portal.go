package ratelimit

import (
	"fmt"
	"maps"
	"slices"

	"github.com/wasmgate/wasmgate/core/filter"
)

// Requirement says the limit on the portal, beside the route's API.
func (f *Filter) Requirement() filter.Requirement { return f.doc }

func (c *Config) requirement(name string) filter.Requirement {
	per := "every caller together"
	if !c.Key.Global() {
		per = c.Key.String()
	}
	r := filter.Requirement{Kind: filter.RequiresLimit, Title: "Rate limit", Details: []filter.Detail{
		{Label: "Policy", Value: name},
		{Label: "Rate", Value: c.Rate.String()},
		{Label: "Burst", Value: fmt.Sprint(burstOf(c.Rate, c.Burst))},
		{Label: "Per", Value: per},
	}}
	if c.Store == "redis" {
		r.Details = append(r.Details, filter.Detail{Label: "Counted", Value: "across every gateway instance"})
	}
	for _, set := range []struct {
		label string
		m     map[string]Override
	}{{"Consumer", c.Consumers}, {"Tier", c.Tiers}} {
		for _, k := range slices.Sorted(maps.Keys(set.m)) {
			o := set.m[k]
			r.Details = append(r.Details, filter.Detail{Label: set.label + " " + k, Value: fmt.Sprintf("%s, burst %d", o.Rate, burstOf(o.Rate, o.Burst))})
		}
	}
	return r
}

var _ filter.Documented = (*Filter)(nil)
