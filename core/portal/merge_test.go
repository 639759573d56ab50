package portal

import (
	"encoding/json"
	"testing"
)

func TestMergeRenamesAndKeepsEveryAPI(t *testing.T) {
	a, err := Parse("a.yaml", []byte(`
openapi: 3.0.3
info: { title: A, version: "1" }
servers: [{ url: "https://a.example.com" }]
security: [{ key: [] }]
paths:
  /shared:
    get:
      responses: { "200": { description: ok, content: { application/json: { schema: { $ref: "#/components/schemas/Error" } } } } }
components:
  schemas: { Error: { type: object, properties: { a: { type: string } } } }
  securitySchemes: { key: { type: apiKey, in: header, name: X-Key } }
`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("b.yaml", []byte(`
openapi: 3.1.0
info: { title: B, version: "1" }
paths:
  /shared:
    get: { summary: B's, responses: { "200": { description: ok } } }
    post:
      responses: { "200": { description: ok, content: { application/json: { schema: { $ref: "#/components/schemas/Error" } } } } }
components:
  schemas: { Error: { type: object, properties: { b: { type: string } } } }
`))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := merge("All", []string{"a", "b"}, []*Document{a, b})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m["openapi"] != "3.1.0" {
		t.Errorf("openapi %v", m["openapi"])
	}
	// The merged document is one the portal reads: every $ref resolves.
	if _, err := Parse("merged", raw); err != nil {
		t.Fatalf("the merged document does not read back: %v", err)
	}
	shared := m["paths"].(map[string]any)["/shared"].(map[string]any)
	get := shared["get"].(map[string]any)
	if get["summary"] != nil { // a's GET, the first API's
		t.Errorf("GET /shared is B's: %v", get)
	}
	if ref := pick(get, "responses", "200", "content", "application/json", "schema", "$ref"); ref != "#/components/schemas/a.Error" {
		t.Errorf("a's ref %v", ref)
	}
	if ref := pick(shared, "post", "responses", "200", "content", "application/json", "schema", "$ref"); ref != "#/components/schemas/b.Error" {
		t.Errorf("b's ref %v", ref)
	}
	if sec := get["security"].([]any)[0].(map[string]any); sec["a.key"] == nil {
		t.Errorf("a's document-wide security on its operation, renamed: %v", sec)
	}
	if pick(m, "components", "securitySchemes", "a.key", "name") != "X-Key" {
		t.Error("a's security scheme is not renamed with it")
	}
	if pick(get, "servers") == nil || pick(get["servers"].([]any)[0], "url") != "https://a.example.com" {
		t.Errorf("a's servers not on its operation: %v", get)
	}
	if pick(shared, "post", "servers") != nil || shared["servers"] != nil {
		t.Errorf("a's servers apply to b's operation: %v", shared)
	}
	c := m["x-wasmgate-conflicts"].([]any)
	if len(c) != 1 || c[0].(map[string]any)["api"] != "b" || c[0].(map[string]any)["method"] != "get" {
		t.Errorf("conflicts %v", c)
	}
}

func pick(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
