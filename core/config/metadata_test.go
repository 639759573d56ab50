package config

import (
	"strings"
	"testing"
)

func TestRouteMetadata(t *testing.T) {
	cfg := mustParse(t, `
listeners: [{ address: ":8080" }]
upstreams: { u: { targets: [{ url: "http://127.0.0.1:1" }] } }
routes:
  - name: r
    match: { prefix: / }
    upstream: u
    metadata:
      filter_metadata:
        envoy.filters.http.wasm: { tier: gold, weight: 3, ratio: 0.5, beta: true, none: null, tags: [a, 1], deep: { k: v } }
        empty:
`, nil)
	md := cfg.Routes[0].Metadata.FilterMetadata
	ns := md["envoy.filters.http.wasm"]
	if ns["tier"] != "gold" || ns["weight"] != float64(3) || ns["ratio"] != 0.5 || ns["beta"] != true || ns["none"] != nil {
		t.Fatalf("namespace decoded as %#v", ns)
	}
	if tags := ns["tags"].([]any); len(tags) != 2 || tags[0] != "a" || tags[1] != float64(1) {
		t.Errorf("tags %#v", ns["tags"])
	}
	if deep := ns["deep"].(map[string]any); deep["k"] != "v" {
		t.Errorf("deep %#v", ns["deep"])
	}
	if e, ok := md["empty"]; !ok || len(e) != 0 {
		t.Errorf("an empty namespace: %#v, %v", e, ok)
	}
}

func TestRouteMetadataErrors(t *testing.T) {
	for _, tc := range []struct{ meta, want string }{
		{`metadata: [a]`, `gw.yaml:6:15: routes[0].metadata: metadata must be a mapping with filter_metadata`},
		{`metadata: { typed_filter_metadata: {} }`, `gw.yaml:6:17: routes[0].metadata.typed_filter_metadata: unknown field "typed_filter_metadata"; valid fields: filter_metadata`},
		{`metadata: { filter_metadata: [x] }`, `gw.yaml:6:17: routes[0].metadata.filter_metadata: expected a mapping of namespace to {key: value}`},
		{`metadata: { filter_metadata: { ns: 3 } }`, `gw.yaml:6:36: routes[0].metadata.filter_metadata.ns: a namespace holds a mapping of keys to values, got "3"`},
		{"metadata:\n      filter_metadata:\n        ns: { big: 18014398509481985 }", `gw.yaml:8:15: routes[0].metadata.filter_metadata.ns.big: 18014398509481985 does not fit a metadata number`},
		{"metadata:\n      filter_metadata:\n        ns: { a: 1, a: 2 }", `routes[0].metadata.filter_metadata.ns.a: duplicate key "a"`},
		{"metadata:\n      filter_metadata:\n        ns: { x: .nan }", `gw.yaml:8:15: routes[0].metadata.filter_metadata.ns.x: ".nan" is not a finite number`},
	} {
		errs := parseErrs(t, `
listeners: [{ address: ":8080" }]
upstreams: { u: { targets: [{ url: "http://127.0.0.1:1" }] } }
routes:
  - name: r
    upstream: u
    `+tc.meta+`
`, nil)
		if got := strings.Join(errs, "\n"); !strings.Contains(got, tc.want) {
			t.Errorf("%s:\n got %s\nwant %s", tc.meta, got, tc.want)
		}
	}
}
