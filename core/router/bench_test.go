package router

import (
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/wasmgate/wasmgate/core/config"
)

// benchTable builds n routes in a realistic mix: mostly static service
// paths, templated item paths, a few prefixes; a quarter on an exact host, a
// quarter on a wildcard, the rest on any host. It returns the table and
// requests (host, path) that hit static routes, param routes and nothing.
func benchTable(b *testing.B, n int) (tab *Table[int], static, param, miss [][2]string) {
	hostOf := func(i int) ([]string, string) {
		switch i % 4 {
		case 0:
			return []string{"api.example.com"}, "api.example.com"
		case 1:
			return []string{"*.example.com"}, fmt.Sprintf("t%d.example.com", i%7)
		}
		return nil, "any.example.net"
	}
	entries := make([]Entry[int], n)
	for i := range n {
		hosts, reqHost := hostOf(i)
		m := config.Match{Hosts: hosts}
		switch k := i % 10; {
		case k < 6:
			m.Path = fmt.Sprintf("/api/v1/svc%d/items", i)
			m.Methods = []string{"GET"}
			static = append(static, [2]string{reqHost, m.Path})
		case k < 9:
			m.Path = fmt.Sprintf("/api/v1/svc%d/items/{id}", i)
			param = append(param, [2]string{reqHost, fmt.Sprintf("/api/v1/svc%d/items/%d", i, i*7)})
		default:
			m.Prefix = fmt.Sprintf("/static/svc%d/", i)
		}
		miss = append(miss, [2]string{reqHost, fmt.Sprintf("/api/v2/svc%d/nothing/here", i)})
		entries[i] = Entry[int]{Match: m, Value: i}
	}
	tab, err := Compile(entries)
	if err != nil {
		b.Fatal(err)
	}
	return tab, static, param, miss
}

// BenchmarkMatch keeps the working set the same at every size (16 requests
// spread over the table), so that it measures lookup cost, not how much of
// the table fits in the CPU cache; BenchmarkMatchColdCache cycles through
// every route.
func BenchmarkMatch(b *testing.B) {
	benchMatch(b, func(reqs [][2]string) [][2]string {
		spread := make([][2]string, 0, 16)
		for i := range 16 {
			spread = append(spread, reqs[i*len(reqs)/16])
		}
		return spread
	})
}

func BenchmarkMatchColdCache(b *testing.B) {
	benchMatch(b, func(reqs [][2]string) [][2]string { return reqs })
}

func benchMatch(b *testing.B, pick func([][2]string) [][2]string) {
	for _, n := range []int{10, 1000, 10000} {
		tab, static, param, miss := benchTable(b, n)
		static, param, miss = pick(static), pick(param), pick(miss)
		r := httptest.NewRequest("GET", "http://x/", nil)
		for _, c := range []struct {
			name string
			reqs [][2]string
			want Result
		}{{"static", static, Found}, {"param", param, Found}, {"miss", miss, NotFound}} {
			b.Run(fmt.Sprintf("routes=%d/%s", n, c.name), func(b *testing.B) {
				ps := make(Params, 0, 4)
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					q := c.reqs[i%len(c.reqs)]
					if _, res, _ := tab.Match(r, Facts{Scheme: "http"}, q[0], q[1], &ps); res != c.want {
						b.Fatalf("%v: %v", q, res)
					}
					i++
				}
			})
		}
	}
}

func BenchmarkCanonicalize(b *testing.B) {
	for _, c := range []struct{ name, path string }{
		{"canonical", "/api/v1/users/42/orders/file.json"},
		{"escapes", "/api/v1/users/%7Ejo/caf%c3%a9"},
		{"dots", "/api/v1/../v2/./users//42"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Canonicalize(c.path, true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRewrite(b *testing.B) {
	tmpl, err := NewRewriter(config.Rewrite{Path: "/v2/items/{id}"}, config.Match{Path: "/items/{id}"})
	if err != nil {
		b.Fatal(err)
	}
	ps := Params{{"id", "12345"}}
	b.ReportAllocs()
	for b.Loop() {
		tmpl.Apply("/items/12345", ps)
	}
}

// BenchmarkCompile10kOneBranch compiles 10,000 templated routes that all
// hang below one prefix on any host (/api/v1/itemsN/{id}): one node with
// 10,000 static children, the shape of a large flat API.
func BenchmarkCompile10kOneBranch(b *testing.B) {
	entries := make([]Entry[int], 10000)
	for i := range entries {
		entries[i] = Entry[int]{Match: config.Match{Path: fmt.Sprintf("/api/v1/items%d/{id}", i), Methods: []string{"GET", "POST"}}, Value: i}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(entries); err != nil {
			b.Fatal(err)
		}
	}
}
