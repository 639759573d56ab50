package guestmetric

import (
	"slices"
	"strings"

	"github.com/wasmgate/wasmgate/core/filter"
)

// Exporter hands every loaded plugin's metrics to the gateway's metrics
// exporter (filter.Collector), named by Series. The Wasm filter registers
// it with BuildContext.Collect.
type Exporter struct{}

// Help is the help line of every guest metric's family.
const Help = "Defined by a Wasm plugin (proxy_define_metric); the plugin label names it."

// Collect implements filter.Collector.
func (Exporter) Collect(dst []filter.Sample) []filter.Sample {
	for _, m := range Snapshot(nil) {
		name, labels := Series(m.Plugin, m.Name, m.Kind)
		s := filter.Sample{Name: name, Help: Help, Labels: labels, Value: float64(m.Value)}
		switch m.Kind {
		case Counter:
			s.Kind = filter.SampleCounter
		case Gauge:
			s.Kind = filter.SampleGauge
		case Histogram:
			s.Kind, s.Count, s.Bounds, s.Buckets = filter.SampleHistogram, m.Count, Bounds[:], m.Buckets
		}
		dst = append(dst, s)
	}
	return dst
}

// Series is the naming rule of guest metrics on /metrics:
//
//  1. Tags are taken out of the guest's name, as Envoy's tag extractors do
//     for the names filters written for Envoy and Istio build:
//     Istio's form "reporter=.=source;.;response_code=.=200;.;requests_total"
//     (segments separated by ";.;", a tag being "key=.=value"), and the
//     upstream Go SDK example's form "requests_total_method=GET_code=200"
//     (each "_key=value", the key letters and digits, the value running to
//     the next "_key=" or the end).
//  2. What remains is sanitized for Prometheus (every character other than
//     a letter, a digit or "_" becomes "_", as Envoy's Prometheus output
//     does with the dots of its stat names) and prefixed with
//     "wasmgate_plugin_"; a counter gets "_total" unless it ends so.
//  3. The labels are plugin (the plugin's name under plugins:) and the
//     tags, keys sanitized alike and sorted; a tag named plugin, le or one
//     repeated keeps its first value and loses the rest.
//
// So a counter "requests_total_method=GET" of plugin "auth" is
// wasmgate_plugin_requests_total{plugin="auth",method="GET"}.
func Series(plugin, name string, kind Kind) (string, []filter.Label) {
	base, tags := extractTags(name)
	full := "wasmgate_plugin_" + sanitize(base)
	if kind == Counter && !strings.HasSuffix(full, "_total") {
		full += "_total"
	}
	labels := make([]filter.Label, 0, 1+len(tags))
	labels = append(labels, filter.Label{Key: "plugin", Value: plugin})
	slices.SortStableFunc(tags, func(a, b filter.Label) int { return strings.Compare(a.Key, b.Key) })
	for _, t := range tags {
		if t.Key == "plugin" || t.Key == "le" || slices.ContainsFunc(labels, func(l filter.Label) bool { return l.Key == t.Key }) {
			continue
		}
		labels = append(labels, t)
	}
	return full, labels
}

// extractTags splits a guest's metric name into its base and its tags.
func extractTags(name string) (string, []filter.Label) {
	var tags []filter.Label
	if strings.Contains(name, "=.=") { // Istio's form
		var rest []string
		for _, seg := range strings.Split(name, ";.;") {
			if k, v, ok := strings.Cut(seg, "=.="); ok && k != "" {
				tags = append(tags, filter.Label{Key: sanitize(k), Value: v})
			} else if seg != "" {
				rest = append(rest, seg)
			}
		}
		name = strings.Join(rest, "_")
	}
	// The Go SDK example's form: find each "_key=" from the left.
	base := name
	type tagAt struct{ start, keyStart, eq int }
	var at []tagAt
	for i := 0; i < len(name); i++ {
		if name[i] != '=' {
			continue
		}
		k := i
		for k > 0 && isAlnum(name[k-1]) {
			k--
		}
		if k == i || k == 0 || (name[k-1] != '_' && name[k-1] != '.') {
			continue
		}
		at = append(at, tagAt{k - 1, k, i})
	}
	if len(at) > 0 {
		base = name[:at[0].start]
		for j, t := range at {
			end := len(name)
			if j+1 < len(at) {
				end = at[j+1].start
			}
			tags = append(tags, filter.Label{Key: sanitize(name[t.keyStart:t.eq]), Value: name[t.eq+1 : end]})
		}
	}
	if base == "" {
		base = "unnamed"
	}
	return base, tags
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// sanitize maps a name onto Prometheus's [a-zA-Z0-9_], as Envoy's
// Prometheus output does; a leading digit gets a "_" before it.
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !isAlnum(c) && c != '_' {
			b[i] = '_'
		}
	}
	if len(b) > 0 && '0' <= b[0] && b[0] <= '9' {
		return "_" + string(b)
	}
	return string(b)
}

var _ filter.Collector = Exporter{}
