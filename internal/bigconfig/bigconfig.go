// Package bigconfig writes the large config the reload benchmarks and the
// config parser's tests share: n routes over n/10 upstreams and 50 hosts,
// each with a templated path, two methods and a headers filter (1.5 MB of
// YAML at 10,000 routes).
package bigconfig

import (
	"fmt"
	"strings"
)

// Routes is the config of n routes; edit, if not empty, is appended to the
// last route's header value, so that two edits make two configs that
// differ in one route.
func Routes(n int, edit string) []byte {
	var sb strings.Builder
	sb.WriteString("listeners: [{ name: main, address: \"127.0.0.1:0\" }]\nadmin: { address: \"off\" }\nupstreams:\n")
	for u := 0; u < n/10; u++ {
		fmt.Fprintf(&sb, "  u%d: { targets: [{ url: \"http://127.0.0.1:%d\" }] }\n", u, 20000+u)
	}
	sb.WriteString("routes:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "  - name: r%d\n    match: { hosts: [svc%d.example.com], path: \"/api/v1/items%d/{id}\", methods: [GET, POST] }\n", i, i%50, i)
		value := "{id}"
		if i == n-1 {
			value += edit
		}
		fmt.Fprintf(&sb, "    filters: [{ headers: { request: { set: { X-Item: %q } } } }]\n    upstream: u%d\n", value, i%(n/10))
	}
	return []byte(sb.String())
}
