package gateway

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wasmgate/wasmgate/core/filter"
)

// sharedConfig is a filter.Shareable test filter that counts its builds and
// sets X-Shared to its value and the route's parameter names.
type sharedConfig struct {
	Value string `yaml:"value"`
}

type sharedProbe struct{ value string }

var sharedBuilds atomic.Int64

func init() {
	filter.Register("test_shared", func() filter.Config { return new(sharedConfig) })
}

func (c *sharedConfig) Shareable() {}

func (c *sharedConfig) Build(bc *filter.BuildContext) (filter.Filter, error) {
	sharedBuilds.Add(1)
	return &sharedProbe{value: c.Value + "/" + strings.Join(bc.RouteParams, ",")}, nil
}

func (p *sharedProbe) OnRequest(x *filter.Exchange) *filter.Response {
	x.Request.Header.Set("X-Probe", p.value)
	return nil
}

// Routes whose blocks of a Shareable filter say the same share one built
// filter: whatever the block's layout, but not across different blocks or
// different path parameters. A reload keeps the filters of the blocks it
// keeps and builds only the changed ones; other filters are never shared.
func TestShareableFiltersAreBuiltOncePerBlock(t *testing.T) {
	up := echoUpstream(t)
	file := filepath.Join(t.TempDir(), "gw.yaml")
	write := func(cValue string) {
		t.Helper()
		cfg := fmt.Sprintf(`
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
upstreams:
  echo: { targets: [{ url: %q }] }
routes:
  - name: a
    match: { path: /a }
    filters: [{ test_shared: { value: one } }, { test_probe: { tag: a } }]
    upstream: echo
  - name: b
    match: { path: /b }
    filters:
      - test_shared:
          value: "one"   # the same block, written otherwise
      - test_probe: { tag: a }
    upstream: echo
  - name: c
    match: { path: /c }
    filters: [{ test_shared: { value: %s } }]
    upstream: echo
  - name: d
    match: { path: "/d/{id}" }
    filters: [{ test_shared: { value: one } }]
    upstream: echo
  - name: e
    match: { path: "/e/{id}" }
    filters: [{ test_shared: { value: one } }]
    upstream: echo
`, up.URL, cValue)
		if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("two")
	before := sharedBuilds.Load()
	g, base := startGateway(t, file)
	filters := func() map[string][]filter.Filter {
		out := map[string][]filter.Filter{}
		for _, r := range g.current.Load().routes {
			out[r.Name] = r.chain.Filters()
		}
		return out
	}
	f := filters()
	if f["a"][0] != f["b"][0] {
		t.Error("routes a and b have the same test_shared block but two filters")
	}
	if f["a"][0] == f["c"][0] || f["a"][0] == f["d"][0] {
		t.Error("a filter is shared by routes whose blocks or path parameters differ")
	}
	if f["a"][1] == f["b"][1] {
		t.Error("a filter that is not Shareable is shared")
	}
	if n := sharedBuilds.Load() - before; n != 3 {
		t.Errorf("%d test_shared builds for three distinct blocks", n)
	}
	routes := map[string]*Route{}
	for _, r := range g.current.Load().routes {
		routes[r.Name] = r
	}
	if routes["d"].chain != routes["e"].chain {
		t.Error("routes d and e have the same shared filters but two chains")
	}
	if routes["a"].chain == routes["b"].chain {
		t.Error("routes whose chains hold a filter of their own share a chain")
	}
	if routes["a"].proxy != routes["e"].proxy {
		t.Error("routes with the same proxy options have two proxies")
	}
	if _, body := get(t, base+"/d/7"); body != "GET /d/7" {
		t.Errorf("GET /d/7: %q", body)
	}
	if _, body := get(t, base+"/b"); body != "GET /b" {
		t.Errorf("GET /b: %q", body)
	}

	write("three")
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	g2 := filters()
	if g2["a"][0] != f["a"][0] || g2["d"][0] != f["d"][0] {
		t.Error("a reload rebuilt shareable filters whose blocks did not change")
	}
	if g2["c"][0] == f["c"][0] {
		t.Error("a reload kept the filter of a block that changed")
	}
	if n := sharedBuilds.Load() - before; n != 4 {
		t.Errorf("%d test_shared builds after a reload that changed one block, want 4", n)
	}
	if n := len(g.current.Load().shared); n != 3 {
		t.Errorf("the snapshot keeps %d shared filters, want the 3 it uses", n)
	}
}
