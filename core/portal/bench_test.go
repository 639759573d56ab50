package portal

import (
	"net/http/httptest"
	"path/filepath"
	"testing"
)

func benchPortal(b *testing.B) *Portal {
	var srcs Sources
	if err := srcs.AddDocument("orders", filepath.Join("testdata", "orders.yaml"), &Route{Name: "r", Path: "/orders/*"}); err != nil {
		b.Fatal(err)
	}
	p, err := New(&Config{Prefix: "/docs", Title: "T"}, "main", &srcs, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkServePage is a request for the page: the site is built, so this
// is the per-request cost (headers, no rendering).
func BenchmarkServePage(b *testing.B) {
	p := benchPortal(b)
	r := httptest.NewRequest("GET", "/docs/", nil)
	b.ReportAllocs()
	for b.Loop() {
		if resp := p.Serve(r, "/docs/"); resp.Status != 200 {
			b.Fatal(resp.Status)
		}
	}
}

// BenchmarkBuildSite is what a snapshot (or a publisher's new document)
// costs: the model, the page and the merged document.
func BenchmarkBuildSite(b *testing.B) {
	p := benchPortal(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.build(nil); err != nil {
			b.Fatal(err)
		}
	}
}
