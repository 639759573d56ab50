package aggregate

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// benchBody is a backend result of about n KiB: a profile-like object with
// a list of items.
func benchBody(kib int) []byte {
	var b strings.Builder
	b.WriteString(`{"id": 42, "name": "Douglas", "password": "x", "data": {"items": [`)
	for i := 0; b.Len() < kib<<10; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id": %d, "title": "item number %d", "price": %d.5, "secret": "s%d", "tags": ["a", "b"]}`, i, i, i, i)
	}
	b.WriteString(`]}}`)
	return []byte(b.String())
}

// BenchmarkMerge measures the merge step alone (check, select, shape,
// place, write) for three backend results of 4 KiB each; SetBytes makes
// MB/s the throughput over the backend bytes, so ns per KiB is 1e6/(MB/s).
func BenchmarkMerge(b *testing.B) {
	body := benchBody(4)
	modes := map[string]string{
		"as":          `calls: [{upstream: u, path: /, as: a}, {upstream: u, path: /, as: b}, {upstream: u, path: /, as: c}]`,
		"merge":       `calls: [{upstream: u, path: /, merge: true, name: a}, {upstream: u, path: /, merge: true, name: b, group: g}, {upstream: u, path: /, merge: true, name: c, group: h}]`,
		"selectAllow": `calls: [{upstream: u, path: /, as: a, select: data.items, allow: [id, title]}, {upstream: u, path: /, as: b, deny: [password]}, {upstream: u, path: /, as: c, select: data.items.3, rename: {id: key}}]`,
	}
	f := newFixture(map[string]http.Handler{"u": jsonHandler("{}")})
	for _, name := range []string{"as", "merge", "selectAllow"} {
		p := compile(b, f, modes[name])
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(3 * len(body)))
			b.ReportAllocs()
			outcomes := make([]outcome, len(p.calls))
			for b.Loop() {
				for i, c := range p.calls {
					res, placed, fs, err := c.shapeResult(body)
					if err != nil {
						b.Fatal(err)
					}
					outcomes[i] = outcome{index: i, result: res, placed: placed, fields: fs}
				}
				resp := p.merge(outcomes)
				if resp.Status != 200 {
					b.Fatalf("%d %s", resp.Status, resp.Body)
				}
			}
		})
	}
	// The same three results merged with encoding/json into a map, for scale.
	b.Run("encodingJSONBaseline", func(b *testing.B) {
		b.SetBytes(int64(3 * len(body)))
		b.ReportAllocs()
		for b.Loop() {
			out := map[string]any{}
			for _, k := range []string{"a", "b", "c"} {
				var v any
				if err := json.Unmarshal(body, &v); err != nil {
					b.Fatal(err)
				}
				out[k] = v
			}
			if _, err := json.Marshal(out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
