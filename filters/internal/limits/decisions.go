package limits

import "github.com/wasmgate/wasmgate/core/filter"

// DecisionsMetric is wasmgate_ratelimit_decisions_total{http_route, policy,
// outcome}: every traffic-shaping filter (rate_limit, quota, concurrency,
// priority) counts its decisions under it, each with its own policy name.
var DecisionsMetric = filter.Metric{
	Name: "wasmgate.ratelimit.decisions",
	Unit: "{request}",
	Help: "Traffic-shaping decisions (rate limits, quotas, concurrency caps, priority shedding), by route, policy and outcome (allowed, limited, error).",
}

// Decisions counts one policy's decisions on one route.
type Decisions struct {
	allowed, limited, failed *filter.Counter
}

// NewDecisions registers the decision counters of policy on bc's route at
// build time. canFail is set by policies that can fail to decide (a store
// that is unreachable): only they have an error outcome.
func NewDecisions(bc *filter.BuildContext, policy string, canFail bool) *Decisions {
	bind := func(outcome string) *filter.Counter {
		return bc.Counter(DecisionsMetric,
			filter.Label{Key: "http.route", Value: bc.Route},
			filter.Label{Key: "policy", Value: policy},
			filter.Label{Key: "outcome", Value: outcome})
	}
	d := &Decisions{allowed: bind("allowed"), limited: bind("limited"), failed: new(filter.Counter)}
	if canFail {
		d.failed = bind("error")
	}
	return d
}

// Allowed counts a request the policy let through.
func (d *Decisions) Allowed() { d.allowed.Inc() }

// Limited counts a request the policy refused.
func (d *Decisions) Limited() { d.limited.Inc() }

// Error counts a decision that could not be made (store unreachable).
func (d *Decisions) Error() { d.failed.Inc() }
