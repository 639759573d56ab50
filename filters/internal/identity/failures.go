package identity

import "github.com/wasmgate/wasmgate/core/filter"

// AuthFailures is wasmgate_auth_failures_total{http_route, filter, reason}:
// requests refused by an auth or access filter (apikey, basic_auth, jwt,
// mtls, cors, ip_filter), each counting under its own name and reasons.
var AuthFailures = filter.Metric{
	Name: "wasmgate.auth.failures",
	Unit: "{request}",
	Help: "Requests refused by auth and access filters, by filter and reason.",
}

// FailureCounter registers the counter of refusals for reason by the
// filter named filterName on bc's route. Take it at build time: counting is
// then one atomic add.
func FailureCounter(bc *filter.BuildContext, filterName, reason string) *filter.Counter {
	return bc.Counter(AuthFailures,
		filter.Label{Key: "http.route", Value: bc.Route},
		filter.Label{Key: "filter", Value: filterName},
		filter.Label{Key: "reason", Value: reason})
}
