package fastyaml

import (
	"bytes"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/wasmgate/wasmgate/internal/bigconfig"
)

// BenchmarkParse10kRoutes is the parse of a 10,000-route config (1.5 MB)
// into nodes, by this package and by yaml.v3.
func BenchmarkParse10kRoutes(b *testing.B) {
	src := bigconfig.Routes(10000, "")
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
	if !compare(t, "10k routes", bigconfig.Routes(10000, "")) {
		t.Error("the benchmark's config is not in the subset")
	}
}
