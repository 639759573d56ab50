package openapi

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const paramsDoc = `
openapi: 3.1.0
info: { title: Params, version: "1" }
paths:
  /items/{name}:
    get:
      parameters:
        - { name: name, in: path, required: true, schema: { type: string, pattern: "^[a-z ]+$" } }
        - { name: q, in: query, schema: { type: string, maxLength: 5 } }
        - { name: ids, in: query, schema: { type: array, items: { type: integer } } }
        - { name: tags, in: query, explode: false, schema: { type: array, items: { type: string, enum: [a, b] } } }
        - { name: X-API-KEY, in: header, required: true, schema: { type: string, minLength: 3 } }
        - { name: X-Limit, in: header, schema: { type: integer, maximum: 10 } }
        - { name: X-Ids, in: header, schema: { type: array, items: { type: integer } } }
        - { name: session, in: cookie, schema: { type: string, pattern: "^[0-9]+$" } }
      responses:
        "200": { description: OK. }
`

// TestParameters: parameters are percent-decoded once, read as their
// style says, must be UTF-8, and a single-valued one sent twice is
// refused wherever it is (the upstream may read either value).
func TestParameters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "params.yaml")
	if err := os.WriteFile(path, []byte(paramsDoc), 0o600); err != nil {
		t.Fatal(err)
	}
	f := build(t, &Config{Spec: path})
	hk := []string{"x-api-key", "abc"}
	for _, tc := range []struct {
		name, url string
		hdr       []string
		want      string // "": let through; else a substring of the answer
	}{
		{"plain", "/items/abc", hk, ""},
		{"encoded space in path", "/items/a%20b", hk, ""},
		{"encoded path char", "/items/a%41", hk, "path.name"},
		{"header name any case", "/items/abc", []string{"X-Api-Key", "abc"}, ""},
		{"header missing", "/items/abc", nil, "header.X-API-KEY"},
		{"query plus and percent", "/items/abc?q=a+b%21", hk, ""},
		{"query too long after decoding", "/items/abc?q=%61%61%61%61%61%61", hk, "query.q"},
		{"query key encoded", "/items/abc?%71=aaaaaa", hk, "query.q"},
		{"query twice", "/items/abc?q=a&q=bbbbbbbbb", hk, "given more than once"},
		{"exploded array", "/items/abc?ids=1&ids=2", hk, ""},
		{"exploded array item", "/items/abc?ids=1&ids=x", hk, "query.ids/1"},
		{"comma array", "/items/abc?tags=a,b", hk, ""},
		{"comma array item", "/items/abc?tags=a,c", hk, "query.tags/1"},
		{"comma array, encoded comma is data", "/items/abc?tags=a%2Cb", hk, "query.tags/0"},
		{"bad escape", "/items/abc?q=%zz", hk, "percent-encoded"},
		{"invalid UTF-8 in query", "/items/abc?q=%ff", hk, "query.q"},
		{"invalid UTF-8 in path", "/items/a%ff", hk, "path.name"},
		{"header twice", "/items/abc", append([]string{"X-Limit", "1", "X-Limit", "99"}, hk...), "header.X-Limit"},
		{"header list with spaces", "/items/abc", append([]string{"X-Ids", "1, 2,3 ", "X-Ids", " 4"}, hk...), ""},
		{"header list item", "/items/abc", append([]string{"X-Ids", "1, x"}, hk...), "header.X-Ids/1"},
		{"header value spaces", "/items/abc", append([]string{"X-Limit", " 3 "}, hk...), ""},
		{"cookie", "/items/abc", append([]string{"Cookie", "session=123"}, hk...), ""},
		{"cookie bad", "/items/abc", append([]string{"Cookie", "session=abc"}, hk...), "cookie.session"},
		{"cookie with spaces", "/items/abc", append([]string{"Cookie", "session=12 OR 1=1"}, hk...), "cookie.session"},
		{"cookie with a comma", "/items/abc", append([]string{"Cookie", "session=1,2"}, hk...), "cookie.session"},
		{"cookie quoted", "/items/abc", append([]string{"Cookie", `session="123"`}, hk...), ""},
		{"cookie in two headers", "/items/abc", append([]string{"Cookie", "a=1", "Cookie", "session=x"}, hk...), "cookie.session"},
		{"cookie twice", "/items/abc", append([]string{"Cookie", "session=1; session=x"}, hk...), "cookie.session"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.OnRequest(exchange("GET", tc.url, "", tc.hdr...))
			switch {
			case tc.want == "" && resp != nil:
				t.Fatalf("refused %d %s", resp.Status, resp.Body)
			case tc.want != "" && resp == nil:
				t.Fatalf("let through, want %q", tc.want)
			case tc.want != "" && !strings.Contains(string(resp.Body), tc.want):
				t.Fatalf("%d %s, want %q", resp.Status, resp.Body, tc.want)
			}
		})
	}
}
