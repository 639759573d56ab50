package jsonx

import (
	"errors"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, in := range []string{
		`{"a":1,"b":[true,false,null],"c":{"d":"e"},"n":-1.5e3}`,
		`[]`, `{}`, `"x"`, `0`, `-0.25`, `{"z":1,"a":2}`,
		`{"s":"quote \" backslash \\ newline \n tab \t ctl \u0001"}`,
	} {
		v, err := Parse([]byte(in))
		if err != nil {
			t.Fatalf("Parse(%s): %v", in, err)
		}
		if got := string(Append(nil, &v)); got != in {
			t.Errorf("round trip %s = %s", in, got)
		}
	}
}

func TestParseWhitespaceAndEscapes(t *testing.T) {
	v, err := Parse([]byte(" { \"k\" : \"\\u00e9\\ud83d\\ude00\\/\" } \n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Get("k").Str; got != "é😀/" {
		t.Fatalf("k = %q", got)
	}
}

func TestParseErrors(t *testing.T) {
	for in, want := range map[string]string{
		``:                              "unexpected end of input",
		`{"a":}`:                        "unexpected character",
		`{"a" 1}`:                       "expected ':'",
		`[1,2`:                          "end of input in an array",
		`{"a":1,}`:                      "expected a member name",
		`01`:                            "unexpected data after",
		`1.`:                            "no digits after",
		`"abc`:                          "unterminated string",
		"\"a\x01\"":                     "control character",
		`tru`:                           "expected true",
		`{"a":1} x`:                     "unexpected data after",
		`"\x"`:                          "invalid escape",
		"\"\xff\"":                      "invalid UTF-8",
		strings.Repeat("[", MaxDepth+2): "nesting deeper",
	} {
		_, err := Parse([]byte(in))
		var se *SyntaxError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", in, err, want)
		}
	}
}

func TestEditAndEqual(t *testing.T) {
	v, _ := Parse([]byte(`{"a":1,"b":{"c":[1,2]}}`))
	v.Set("a", StringValue("x"))
	v.Set("new", NumberValue(2))
	if got := string(Append(nil, &v)); got != `{"a":"x","b":{"c":[1,2]},"new":2}` {
		t.Fatalf("edited = %s", got)
	}
	w, _ := Parse([]byte(`{"new":2.0,"b":{"c":[1,2]},"a":"x"}`))
	if !Equal(&v, &w) {
		t.Fatal("Equal should ignore member order and number spelling")
	}
	one, _ := Parse([]byte(`1.0`))
	if !one.IsInteger() {
		t.Fatal("1.0 is an integer")
	}
}
