package cache

import "github.com/wasmgate/wasmgate/core/filter"

var (
	lookupsMetric = filter.Metric{
		Name: "wasmgate.cache.lookups",
		Unit: "{request}",
		Help: "Requests the cache saw, by route and result: hit (answered from a fresh entry), miss (forwarded, no usable entry), stale (answered from a stale entry: stale-while-revalidate, stale-if-error, max-stale), revalidated (a stale entry refreshed by a 304), bypass (not cacheable: method, request directives, no consumer).",
	}
	storedMetric = filter.Metric{
		Name: "wasmgate.cache.stored",
		Unit: "{response}",
		Help: "Responses stored, by route.",
	}
	bytesMetric = filter.Metric{
		Name: "wasmgate.cache.bytes",
		Unit: "By",
		Help: "Body bytes by route and direction: served (answered from the store) and stored.",
	}
	evictionsMetric = filter.Metric{
		Name: "wasmgate.cache.evictions",
		Unit: "{entry}",
		Help: "Entries a memory store evicted to stay within max_size, by route.",
	}
)

// metrics are one route's counters, bound at build.
type metrics struct {
	hit, miss, stale, revalidated, bypass *filter.Counter
	stored, bytesServed, bytesStored      *filter.Counter
}

func newMetrics(bc *filter.BuildContext) *metrics {
	route := filter.Label{Key: "http.route", Value: bc.Route}
	lookup := func(result string) *filter.Counter {
		return bc.Counter(lookupsMetric, route, filter.Label{Key: "result", Value: result})
	}
	bytes := func(dir string) *filter.Counter {
		return bc.Counter(bytesMetric, route, filter.Label{Key: "direction", Value: dir})
	}
	return &metrics{
		hit: lookup("hit"), miss: lookup("miss"), stale: lookup("stale"),
		revalidated: lookup("revalidated"), bypass: lookup("bypass"),
		stored:      bc.Counter(storedMetric, route),
		bytesServed: bytes("served"), bytesStored: bytes("stored"),
	}
}
