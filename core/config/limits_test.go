package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadFileRefusesLargeFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, []byte(strings.Repeat("# padding\n", 2000)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(path, 1000)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "too large: 19.5 KiB (20000 bytes), over the limit of 1000 B") {
		t.Errorf("err = %v, want too large, naming both sizes", err)
	}
	if _, err := ReadFile(path, 20000); err != nil {
		t.Errorf("a file at the limit: %v", err)
	}
	if _, err := parseWithin(path, make([]byte, 1001), env(), Limits{FileSize: 1000}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Parse of too many bytes: %v", err)
	}
}

func TestCountLimits(t *testing.T) {
	small := Limits{Listeners: 2, Routes: 3, Upstreams: 2, TargetsPerUpstream: 2, Consumers: 2, FilterChains: 1, FiltersPerList: 2}
	routes := func(n int) string {
		var b strings.Builder
		b.WriteString("routes:\n")
		for i := range n {
			fmt.Fprintf(&b, "  - {name: r%d, upstream: users}\n", i)
		}
		return b.String()
	}
	for name, tt := range map[string]struct{ src, want string }{
		"routes": {"listeners: [{address: \":1\"}]\n" + routes(4),
			`gw.yaml:2:1: routes: 4 routes, over the limit of 3;`},
		"routes through an alias": {"listeners: [{address: \":1\"}]\nupstreams: {u: {targets: &r [{url: \"http://a\"}, {url: \"http://a\"}]}}\nroutes: *r\n",
			`gw.yaml:3:1: routes: 2 routes`}, // not over: the alias counts what it stands for
		"listeners": {"listeners: [{address: \":1\"}, {address: \":2\"}, {address: \":3\"}]\n",
			`gw.yaml:1:1: listeners: 3 listeners, over the limit of 2;`},
		"upstreams": {"upstreams: {a: {}, b: {}, c: {}}\n",
			`gw.yaml:1:1: upstreams: 3 upstreams, over the limit of 2;`},
		"targets": {"upstreams:\n  a:\n    targets: [{url: \"http://x\"}, {url: \"http://x\"}, {url: \"http://x\"}]\n",
			`gw.yaml:3:5: upstreams.a.targets: 3 targets, over the limit of 2;`},
		"consumers": {"consumers: [{name: a}, {name: b}, {name: c}]\n",
			`gw.yaml:1:1: consumers: 3 consumers, over the limit of 2;`},
		"filters of a route": {"routes:\n  - name: r\n    filters: [{cors: {}}, {cors: {}}, {cors: {}}]\n",
			`gw.yaml:3:5: routes[0].filters: 3 filters in one list, over the limit of 2;`},
		"filters of a chain": {"filter_chains:\n  c: [{cors: {}}, {cors: {}}, {cors: {}}]\n",
			`gw.yaml:2:3: filter_chains.c: 3 filters in one list, over the limit of 2;`},
		"filter chains": {"filter_chains: {a: [], b: []}\n",
			`gw.yaml:1:1: filter_chains: 2 filter chains, over the limit of 1;`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseWithin("gw.yaml", []byte(tt.src), env(), small)
			got := fmt.Sprint(err)
			if strings.HasSuffix(tt.want, ";") != strings.Contains(got, tt.want) {
				t.Errorf("errors:\n%s\nwant one starting %q", got, tt.want)
			}
		})
	}
}
