package httpsyntax

import "testing"

func TestSyntax(t *testing.T) {
	for s, want := range map[string]bool{"GET": true, "X-Foo_1.2~|`^": true, "": false, "a b": false, "a:b": false, "é": false, "a\x7f": false} {
		if IsToken(s) != want || IsToken([]byte(s)) != want {
			t.Errorf("IsToken(%q) = %v, want %v", s, !want, want)
		}
	}
	if got := TrimOWS(" \t a b \t"); got != "a b" {
		t.Errorf("TrimOWS: %q", got)
	}
	for s, want := range map[string]int64{"0": 0, "42": 42, "999999999999999999": 999999999999999999} {
		if n, ok := ParseDecimal(s); !ok || n != want {
			t.Errorf("ParseDecimal(%q) = %d %v", s, n, ok)
		}
	}
	for _, s := range []string{"", "+1", "1 ", "0x1", "1000000000000000000"} {
		if _, ok := ParseDecimal(s); ok {
			t.Errorf("ParseDecimal(%q) accepted", s)
		}
	}
}
