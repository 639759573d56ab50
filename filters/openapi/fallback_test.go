package openapi

import (
	"net/http/httptest"
	"testing"
)

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

// TestIntegerFormats: int32 and int64 bound an integer's range.
func TestIntegerFormats(t *testing.T) {
	doc := []byte(`openapi: 3.1.0
info: { title: T, version: "1" }
paths:
  /n:
    get:
      parameters:
        - { name: a, in: query, schema: { type: integer, format: int32 } }
        - { name: b, in: query, schema: { type: integer, format: int32, maximum: 10 } }
      responses: { "200": { description: OK } }
`)
	sp, err := compileSpec("t", doc, compileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/n?a=3000000000&b=11", nil)
	var ps problems
	ps.reset(10)
	checkParams(sp.ops[0], r, &captures{}, what{query: true}, &ps)
	if got := ps.summary(); got != "query.a: must be <= 2147483647; query.b: must be <= 10" {
		t.Errorf("problems %q", got)
	}
}
