package openapi

import "testing"

// TestFallbackUnderTemplate: a schema left to jsonschema (uniqueItems) is
// found by its pointer even under a templated path and a property name
// that a URI fragment must percent-encode.
func TestFallbackUnderTemplate(t *testing.T) {
	doc := []byte(`openapi: 3.1.0
info: { title: T, version: "1" }
paths:
  /a/{id}:
    post:
      parameters: [{ name: id, in: path, required: true, schema: { type: string } }]
      requestBody:
        content:
          application/json:
            schema: { type: object, properties: { "a b%25#": { type: array, uniqueItems: true } } }
      responses: { "200": { description: OK } }
`)
	sp, err := compileSpec("t", doc, compileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ps problems
	ps.reset(10)
	validateJSON(sp.ops[0].body.content[0].schema, []byte(`{"a b%25#": ["a","a"]}`), "/body", true, &ps)
	if got := ps.summary(); got != "/body/a b%25#: items at 0 and 1 are equal" {
		t.Errorf("problems %q", got)
	}
}
