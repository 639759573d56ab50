package compress

import "testing"

func TestNegotiate(t *testing.T) {
	all := []coding{zstdCoding, brCoding, gzipCoding}
	gzipFirst := []coding{gzipCoding, brCoding, zstdCoding}
	onlyGzip := []coding{gzipCoding}
	cases := []struct {
		ae    []string // Accept-Encoding field lines; nil: none sent
		prefs []coding
		want  coding
	}{
		{nil, all, identity},
		{[]string{""}, all, identity},
		{[]string{"gzip"}, all, gzipCoding},
		{[]string{"GZIP"}, all, gzipCoding},
		{[]string{"x-gzip"}, all, gzipCoding},
		{[]string{"gzip, deflate, br, zstd"}, all, zstdCoding}, // a tie: the server's order
		{[]string{"gzip, deflate, br, zstd"}, gzipFirst, gzipCoding},
		{[]string{"gzip, deflate, br"}, all, brCoding},
		{[]string{"br;q=0.5, gzip;q=0.8"}, all, gzipCoding}, // q beats the server's order
		{[]string{"br;q=1.0, gzip;q=0.999"}, all, brCoding},
		{[]string{"gzip;q=0"}, all, identity},
		{[]string{"gzip;q=0.000, br"}, all, brCoding},
		{[]string{"*"}, all, zstdCoding},
		{[]string{"*;q=0.5, gzip"}, all, gzipCoding},
		{[]string{"*, zstd;q=0"}, all, brCoding},
		{[]string{"*;q=0"}, all, identity},
		{[]string{"identity"}, all, identity},
		{[]string{"identity;q=0"}, all, identity}, // nothing acceptable: identity all the same
		{[]string{"identity;q=0, gzip"}, all, gzipCoding},
		{[]string{"gzip;q=0.5, identity"}, all, identity},         // identity weighs more
		{[]string{"gzip;q=0.5, identity;q=0.5"}, all, gzipCoding}, // a tie goes to compression
		{[]string{"deflate"}, all, identity},
		{[]string{"br"}, onlyGzip, identity},
		{[]string{"gzip", "br"}, all, brCoding},         // several field lines are one list
		{[]string{"gzip;q=2, br;q=0.1"}, all, brCoding}, // a malformed weight drops its element
		{[]string{"gzip;q=abc"}, all, identity},
		{[]string{"gzip ; q=0.7 , br ; Q=0.6"}, all, gzipCoding},
		{[]string{"gzip;level=1;q=0.4, br;q=0.3"}, all, gzipCoding},
		{[]string{",, gzip ,"}, all, gzipCoding},
	}
	for _, c := range cases {
		if got := negotiate(c.ae, c.prefs); got != c.want {
			t.Errorf("Accept-Encoding %q, prefs %v: %v, want %v", c.ae, c.prefs, got, c.want)
		}
	}
}

func TestParseQ(t *testing.T) {
	for s, want := range map[string]int{"0": 0, "1": 1000, "0.5": 500, "0.25": 250, "0.125": 125, "1.000": 1000, "1.": 1000, "0.": 0} {
		if got, ok := parseQ(s); !ok || got != want {
			t.Errorf("parseQ(%q) = %d, %v; want %d", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "1.001", "2", "0.1234", "-1", ".5", "0,5", "1e0"} {
		if got, ok := parseQ(s); ok {
			t.Errorf("parseQ(%q) = %d, accepted; want refused", s, got)
		}
	}
}
