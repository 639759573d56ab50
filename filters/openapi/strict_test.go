package openapi

import (
	"fmt"
	"strings"
	"testing"
)

const strictDoc = `
openapi: 3.1.0
info: { title: Strict, version: "1" }
paths:
  /s:
    post:
      requestBody:
        content:
          application/json:
            schema: { $ref: "#/components/schemas/S" }
      responses:
        "200": { description: OK. }
components:
  schemas:
    S:
      type: object
      properties:
        s: { type: string, pattern: "^[a-z\u00e9]*$" }
        n: { type: integer, format: int64 }
        m: { type: number, maximum: 100 }
        k: { type: number, multipleOf: 0.1 }
        q: { type: integer, multipleOf: 7 }
        any: {}
        u: { type: string, pattern: "^a+$", uniqueItems: true }
        closed: { type: object, additionalProperties: false }
`

func strictSchema(t *testing.T) *schema {
	t.Helper()
	sp, err := compileSpec("strict.yaml", []byte(strictDoc), compileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return sp.ops[0].body.content[0].schema
}

// check returns "" for a valid body, else its problems in one line.
func check(s *schema, body string) string {
	var ps problems
	ps.reset(100)
	validateJSON(s, []byte(body), "/body", true, &ps)
	return ps.summary()
}

func TestBodyStrings(t *testing.T) {
	s := strictSchema(t)
	for _, tc := range []struct {
		body, want string // want: "" valid, else a substring of the problems
	}{
		{`{"s":"abc"}`, ""},
		{`{"s":"\u00e9a"}`, ""},
		{`{"any":"\ud83d\ude00"}`, ""},
		// Invalid UTF-8 is refused whether or not the string has escapes.
		{"{\"s\":\"a\xff\"}", "not valid JSON"},
		{"{\"s\":\"\\u0041\xff\"}", "not valid JSON"},
		{"{\"any\":\"\\n\xc3\"}", "not valid JSON"},
		{"{\"\\u0061\xff\":1}", "not valid JSON"},
		// Lone surrogates: encoding/json turns them into U+FFFD, other
		// parsers keep or drop them; I-JSON (RFC 7493) refuses them.
		{`{"s":"\ud800"}`, "surrogate"},
		{`{"s":"\udc00"}`, "surrogate"},
		{`{"any":"\ud800\u0041"}`, "surrogate"},
		{`{"any":"\ud800\n"}`, "surrogate"},
		{`{"\udfff":1}`, "surrogate"},
		{`{"any":"x\uDBFF"}`, "surrogate"},
	} {
		got := check(s, tc.body)
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("%q: problems %q, want %q", tc.body, got, tc.want)
		}
	}
}

// TestBodyDuplicateKeys: encoding/json (and so JSON Schema validators on
// top of it) keeps a repeated key's last value, many parsers the first: a
// body with one is refused, so no value can pass unchecked.
func TestBodyDuplicateKeys(t *testing.T) {
	s := strictSchema(t)
	for _, tc := range []struct{ body, want string }{
		{`{"s":"a","n":1}`, ""},
		{`{"any":[{"x":1},{"x":2}]}`, ""},
		{`{"any":{"a":{"x":1},"b":{"x":1}}}`, ""},
		{`{"s":"a","s":"B"}`, `/body: property "s" appears more than once`},
		{`{"s":"a","\u0073":"a"}`, `/body: property "s" appears more than once`},
		{`{"any":{"x":1,"y":2,"x":3}}`, `/body/any: property "x" appears more than once`},
		{`{"any":[0,{"x":1,"x":1}]}`, `/body/any/1: property "x" appears more than once`},
		{`{"zz":1,"zz":2}`, `property "zz" appears more than once`},
	} {
		got := check(s, tc.body)
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("%q: problems %q, want %q", tc.body, got, tc.want)
		}
	}
	// A large object takes the map path.
	var b strings.Builder
	b.WriteString(`{"any":{`)
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&b, `"k%d":%d,`, i, i)
	}
	b.WriteString(`"k57":0}}`)
	if got := check(s, b.String()); !strings.Contains(got, `/body/any: property "k57" appears more than once`) {
		t.Errorf("100 keys and a repeat: %q", got)
	}
}

// TestBodyNumbers: bounds and multipleOf hold exactly, as JSON Schema says
// (jsonschema compares big.Rats), not up to float64 rounding; a number
// float64 cannot hold is refused.
func TestBodyNumbers(t *testing.T) {
	s := strictSchema(t)
	for _, tc := range []struct{ body, want string }{
		{`{"n":9223372036854775807}`, ""},
		{`{"n":-9223372036854775808}`, ""},
		{`{"n":9223372036854775808}`, "must be <= 9223372036854775807"},
		{`{"n":-9223372036854775809}`, "must be >= -9223372036854775808"},
		{`{"n":9223372036854775807.5}`, "must be integer"},
		{`{"n":1.0}`, ""},
		{`{"n":2.0000000000000000001}`, "must be integer"},
		{`{"n":1.5e1}`, ""},
		{`{"n":1.55e1}`, "must be integer"},
		{`{"n":0.1e1}`, ""},
		{`{"n":-0}`, ""},
		{`{"n":1e2}`, ""},
		{`{"m":100}`, ""},
		{`{"m":100.0}`, ""},
		{`{"m":100.00000000000000001}`, "must be <= 100"},
		{`{"m":1e400}`, "out of range"},
		{`{"any":-1e400}`, "out of range"},
		{`{"any":1e-400}`, ""},
		{`{"k":0.3}`, ""},
		{`{"k":12.7}`, ""},
		{`{"k":0.30000000001}`, "must be a multiple of 0.1"},
		{`{"q":700000000000000000000}`, ""},
		{`{"q":1e300}`, "must be a multiple of 7"},
		{`{"q":9007199254740993}`, "must be a multiple of 7"},
		{`{"n":01}`, "not valid JSON"},
		{`{"n":+1}`, "not valid JSON"},
		{`{"n":1.}`, "not valid JSON"},
		{`{"n":.5}`, "not valid JSON"},
		{`{"n":0x10}`, "not valid JSON"},
		{`{"n":NaN}`, "not valid JSON"},
		{`{"n":Infinity}`, "not valid JSON"},
	} {
		got := check(s, tc.body)
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("%q: problems %q, want %q", tc.body, got, tc.want)
		}
	}
}

func TestBodyNumberExponents(t *testing.T) {
	s := strictSchema(t)
	for _, tc := range []struct{ body, want string }{
		{`{"m":0.` + strings.Repeat("0", 990) + `1e1001}`, "must be <= 100"},
		{`{"m":0.` + strings.Repeat("0", 990) + `1e992}`, ""},
		{`{"k":1e-99999}`, "must be a multiple of 0.1"},
		{`{"k":0e99999}`, ""},
		{`{"any":1` + strings.Repeat("0", 1000) + `}`, "longer than 1000"},
	} {
		got := check(s, tc.body)
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("%.40q: problems %q, want %q", tc.body, got, tc.want)
		}
	}
}

// TestBodySyntax: what RFC 8259 refuses, the checker refuses (a BOM too,
// as encoding/json does), whatever else follows.
func TestBodySyntax(t *testing.T) {
	s := strictSchema(t)
	for _, tc := range []struct{ body, want string }{
		{" \t\r\n{\"s\":\"a\"}\r\n\t ", ""},
		{"\xef\xbb\xbf{}", "not valid JSON"},
		{"{}\f", "not valid JSON"},
		{"{}\u00a0", "not valid JSON"},
		{"{\v}", "not valid JSON"},
		{"{} {}", "not valid JSON"},
		{"{}x", "not valid JSON"},
		{"{}\x00", "not valid JSON"},
		{"{,}", "not valid JSON"},
		{`{"s":"a",}`, "not valid JSON"},
		{`{"any":[1,]}`, "not valid JSON"},
		{`{'s':"a"}`, "not valid JSON"},
		{`{"s":"a\x"}`, "not valid JSON"},
		{"{\"s\":\"a\tb\"}", "not valid JSON"},
		{`{"any":tru}`, "not valid JSON"},
		{`{"any":nul}`, "not valid JSON"},
		{"", "not valid JSON"},
		{" ", "not valid JSON"},
	} {
		got := check(s, tc.body)
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("%q: problems %q, want %q", tc.body, got, tc.want)
		}
	}
}

// TestProblemsCapped: a problem's location and message may quote the
// request (a property name, a value in a fallback's message); each is cut
// short, so a large body cannot make a large answer.
func TestProblemsCapped(t *testing.T) {
	s := strictSchema(t)
	long := strings.Repeat("b", 100000)
	for _, body := range []string{
		`{"closed":{"` + long + `":1}}`,
		`{"u":"` + long + `"}`,
	} {
		var ps problems
		ps.reset(20)
		validateJSON(s, []byte(body), "/body", true, &ps)
		if ps.empty() {
			t.Fatalf("%.30q: valid", body)
		}
		if out := ps.body(400, "op"); len(out) > 2048 {
			t.Errorf("%.30q: a %d-byte answer: %.300s", body, len(out), out)
		}
	}
}
