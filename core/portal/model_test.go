package portal

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func loadAPI(t *testing.T, file string) *API {
	t.Helper()
	doc, err := LoadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	return buildAPI("orders", doc)
}

func findOp(t *testing.T, a *API, method, path string) *Operation {
	t.Helper()
	for _, g := range a.Groups {
		for _, op := range g.Operations {
			if op.Method == method && op.Path == path {
				return op
			}
		}
	}
	t.Fatalf("no %s %s in the model", method, path)
	return nil
}

func prop(t *testing.T, s *Schema, name string) *Schema {
	t.Helper()
	for _, p := range s.Props {
		if p.Name == name {
			return p
		}
	}
	var names []string
	for _, p := range s.Props {
		names = append(names, p.Name)
	}
	t.Fatalf("no property %q; have %v", name, names)
	return nil
}

func TestModelGroupsByTagInDeclaredOrder(t *testing.T) {
	a := loadAPI(t, "orders.yaml")
	var groups []string
	for _, g := range a.Groups {
		groups = append(groups, g.Name)
	}
	if !slices.Equal(groups, []string{"orders", "customers"}) {
		t.Errorf("groups %v, want the tags' declared order", groups)
	}
	if a.Operations != 5 || a.Title != "Orders API" || a.Version != "2.4.0" || a.OpenAPI != "3.1.0" {
		t.Errorf("api %q %q %q with %d operations", a.Title, a.Version, a.OpenAPI, a.Operations)
	}
	if del := findOp(t, a, "delete", "/orders/{id}"); !del.Deprecated {
		t.Error("DELETE /orders/{id} is deprecated in the document")
	}
}

func TestModelParameters(t *testing.T) {
	a := loadAPI(t, "orders.yaml")
	list := findOp(t, a, "get", "/orders")
	var got []string
	for _, p := range list.Params {
		got = append(got, p.In+":"+p.Name)
	}
	if !slices.Equal(got, []string{"query:limit", "query:status", "header:X-Request-Id"}) {
		t.Fatalf("params %v", got)
	}
	limit := list.Params[0] // a $ref to components.parameters
	if limit.Description != "At most this many." || limit.Example != "50" || limit.Schema.Default != "20" ||
		!slices.Equal(limit.Schema.Constraints, []string{"≥ 1", "≤ 100"}) {
		t.Errorf("limit: %+v schema %+v", limit, limit.Schema)
	}
	if s := list.Params[1].Schema; !slices.Equal(s.Enum, []string{`"placed"`, `"paid"`, `"shipped"`}) {
		t.Errorf("status enum %v", s.Enum)
	}
	// A path item's parameter applies to each of its operations, and a
	// path parameter is required whatever the document says.
	get := findOp(t, a, "get", "/orders/{id}")
	if len(get.Params) != 1 || get.Params[0].Name != "id" || !get.Params[0].Required || get.Params[0].Schema.TypeLabel() != "integer (int64)" {
		t.Errorf("GET /orders/{id} params %+v", get.Params)
	}
}

func TestModelRefsAllOfOneOfAndCycles(t *testing.T) {
	a := loadAPI(t, "orders.yaml")
	post := findOp(t, a, "post", "/orders")
	body := post.Body.Contents[0].Schema
	if body.Ref != "NewOrder" || !body.HasChildren() {
		t.Fatalf("request body schema %+v", body)
	}
	if item := prop(t, body, "item"); !item.Required || item.TypeLabel() != "string" {
		t.Errorf("item %+v", item)
	}
	pay := prop(t, body, "payment")
	if pay.VariantKind != "one of" || len(pay.Variants) != 2 || pay.Variants[0].Name != "Card" || pay.Variants[1].Name != "Invoice" {
		t.Fatalf("payment %+v", pay)
	}
	if k := prop(t, pay.Variants[0], "kind"); !slices.Equal(k.Enum, []string{`"card"`}) {
		t.Errorf("const kind %v", k.Enum)
	}
	if e := prop(t, pay.Variants[1], "email"); e.Format != "email" {
		t.Errorf("invoice email %+v", e)
	}

	// allOf of objects folds into one: NewOrder's fields and Order's own,
	// the required ones of both first.
	created := findOp(t, a, "post", "/orders").Responses[0]
	if created.Status != "201" {
		t.Fatalf("first response %s", created.Status)
	}
	order := created.Contents[0].Schema
	if order.Ref != "Order" || order.VariantKind != "" {
		t.Fatalf("Order: %+v", order)
	}
	var names []string
	for _, p := range order.Props {
		names = append(names, p.Name)
	}
	for _, want := range []string{"item", "qty", "payment", "id", "placed_at", "lines", "status"} {
		if !slices.Contains(names, want) {
			t.Errorf("merged Order lacks %s: %v", want, names)
		}
	}
	if id := prop(t, order, "id"); !id.ReadOnly || !id.Required {
		t.Errorf("id %+v", id)
	}
	lines := prop(t, order, "lines")
	if lines.TypeLabel() != "object[]" || prop(t, lines.Items, "sku").Constraints[0] != "pattern ^[A-Z]{3}-[0-9]+$" {
		t.Errorf("lines %s", lines.TypeLabel())
	}
	if c := prop(t, lines.Items, "price").Constraints; !slices.Equal(c, []string{"> 0"}) {
		t.Errorf("3.1 exclusiveMinimum: %v", c)
	}

	// A schema that contains itself is shown once, then named.
	cust := findOp(t, a, "get", "/customers/{id}").Responses[0].Contents[0].Schema
	ref := prop(t, cust, "referred_by")
	if !ref.Circular || ref.Ref != "Customer" || len(ref.Props) != 0 {
		t.Errorf("referred_by %+v", ref)
	}
}

func TestModelTypes31And30(t *testing.T) {
	a := loadAPI(t, "orders.yaml")
	list := findOp(t, a, "get", "/orders")
	next := prop(t, list.Responses[0].Contents[0].Schema, "next")
	if !slices.Equal(next.Types, []string{"string", "null"}) || next.TypeLabel() != "string | null (uri)" {
		t.Errorf("3.1 type list: %v %q", next.Types, next.TypeLabel())
	}
	doc, err := Parse("legacy.yaml", []byte(`
openapi: 3.0.3
info: { title: Legacy, version: "1" }
paths:
  /things:
    get:
      responses:
        200:
          description: ok
          content:
            application/json:
              schema:
                type: object
                properties:
                  name: { type: string, nullable: true }
                  size: { type: integer, minimum: 0, exclusiveMinimum: true }
`))
	if err != nil {
		t.Fatal(err)
	}
	legacy := buildAPI("legacy", doc)
	op := findOp(t, legacy, "get", "/things")
	if op.Responses[0].Status != "200" { // an unquoted YAML 200 is the status "200"
		t.Fatalf("status %q", op.Responses[0].Status)
	}
	s := op.Responses[0].Contents[0].Schema
	if n := prop(t, s, "name"); !slices.Equal(n.Types, []string{"string", "null"}) {
		t.Errorf("3.0 nullable: %v", n.Types)
	}
	if c := prop(t, s, "size").Constraints; !slices.Equal(c, []string{"> 0"}) {
		t.Errorf("3.0 exclusiveMinimum: true: %v", c)
	}
}

func TestModelExamples(t *testing.T) {
	a := loadAPI(t, "orders.yaml")
	// The document's own example (examples.small) wins.
	post := findOp(t, a, "post", "/orders")
	var ex map[string]any
	if err := json.Unmarshal([]byte(post.Body.Contents[0].Example), &ex); err != nil || ex["item"] != "towel" {
		t.Errorf("request example %q (%v)", post.Body.Contents[0].Example, err)
	}
	// Without one, an example is made from the schema: formats, enums,
	// allOf merged, readOnly fields only in responses.
	var order map[string]any
	if err := json.Unmarshal([]byte(post.Responses[0].Contents[0].Example), &order); err != nil {
		t.Fatal(err)
	}
	if order["placed_at"] != "2026-01-01T12:00:00Z" || order["status"] != "placed" || order["id"] == nil || order["item"] != "string" {
		t.Errorf("made-up Order example: %v", order)
	}
	if pay, _ := order["payment"].(map[string]any); pay["kind"] != "card" {
		t.Errorf("a oneOf's example is its first option's: %v", order["payment"])
	}
	// A 3.1 examples list on a property is its example.
	if note := prop(t, post.Body.Contents[0].Schema, "note"); note.Example != `"</script><script>alert(2)</script>"` {
		t.Errorf("note example %q", note.Example)
	}
}

func TestParseRefusesWithTheDocumentsLine(t *testing.T) {
	for name, tc := range map[string]struct{ doc, want string }{
		"swagger":      {"swagger: '2.0'\ninfo: {title: x}\n", "x.yaml:1: a Swagger 2.0 document"},
		"version":      {"openapi: 2.5.0\ninfo: {title: x, version: 1}\n", `x.yaml:1: openapi: "2.5.0"`},
		"title":        {"openapi: 3.1.0\ninfo:\n  version: 1\n", "x.yaml:2: info.title is missing"},
		"dangling ref": {"openapi: 3.1.0\ninfo: {title: x, version: '1'}\npaths:\n  /a:\n    get:\n      responses:\n        '200': {$ref: '#/components/responses/Nope'}\n", `x.yaml:7: $ref "#/components/responses/Nope" points to nothing`},
		"remote ref":   {"openapi: 3.1.0\ninfo: {title: x, version: '1'}\npaths:\n  /a: {$ref: 'other.yaml#/paths/~1a'}\n", `x.yaml:4: $ref "other.yaml#/paths/~1a" points outside the document`},
		"not yaml":     {"openapi: [3.1.0\n", "x.yaml: not YAML or JSON"},
		"duplicate":    {"openapi: 3.1.0\nopenapi: 3.0.0\n", `x.yaml:2: "openapi" is given twice`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseReadsJSON(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "orders.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Parse("orders.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse("orders.json", doc.JSON)
	if err != nil {
		t.Fatal(err)
	}
	if string(again.JSON) != string(doc.JSON) {
		t.Error("the JSON form of a document reads back to other JSON")
	}
}
