package fastyaml

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// routesYAML is core/gateway's manyRoutesYAML: n routes over n/10
// upstreams, each with a templated path and a headers filter.
func routesYAML(n int) []byte {
	var sb strings.Builder
	sb.WriteString("listeners: [{ name: main, address: \"127.0.0.1:0\" }]\nadmin: { address: \"off\" }\nupstreams:\n")
	for u := 0; u < n/10; u++ {
		fmt.Fprintf(&sb, "  u%d: { targets: [{ url: \"http://127.0.0.1:%d\" }] }\n", u, 20000+u)
	}
	sb.WriteString("routes:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "  - name: r%d\n    match: { hosts: [svc%d.example.com], path: \"/api/v1/items%d/{id}\", methods: [GET, POST] }\n", i, i%50, i)
		fmt.Fprintf(&sb, "    filters: [{ headers: { request: { set: { X-Item: %q } } } }]\n    upstream: u%d\n", "{id}", i%(n/10))
	}
	return []byte(sb.String())
}

// BenchmarkParse10kRoutes is the parse of a 10,000-route config (1.5 MB)
// into nodes, by this package and by yaml.v3.
func BenchmarkParse10kRoutes(b *testing.B) {
	src := routesYAML(10000)
	if _, ok := Parse(src); !ok {
		b.Fatal("the config is not in the subset")
	}
	b.Run("fastyaml", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			if _, ok := Parse(src); !ok {
				b.Fatal("refused")
			}
		}
	})
	b.Run("yaml.v3", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			var doc yaml.Node
			if err := yaml.NewDecoder(bytes.NewReader(src)).Decode(&doc); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestRoutesConfigSameTree(t *testing.T) {
	if !compare(t, "10k routes", routesYAML(10000)) {
		t.Error("the benchmark's config is not in the subset")
	}
}
