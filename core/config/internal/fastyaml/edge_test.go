package fastyaml

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestSameTreeOnEdgeCases: inputs at the edges of the subset (indicators,
// flow punctuation, indentation, document markers, tags, escapes, line
// ends, key lengths) are either refused or read as yaml.v3 reads them.
func TestSameTreeOnEdgeCases(t *testing.T) {
	long := func(n int) string { return strings.Repeat("k", n) }
	for _, src := range []string{
		"a:: b\n", "a: b:c\n", "a: ::\n", "a :b: c\n", "a: b :c\n", "...x: 1\n", "...: 1\n", "..: 1\n",
		"a: -\n", "a: -.\n", "a: -.5\n", "-: a\n", "a: -a-\n", "a: x, y\n", "a: b]\n", "a: b}\n", "a{b: c\n", "a]: b\n",
		"a: [a :b]\n", "a: [a:b]\n", "a: [http://x, y]\n", "a: {http://x: y}\n", "a: [a:-b]\n", "a: [a:.b]\n", "a: [a:/b]\n",
		"a: [a:_b]\n", "a: {a:b: c}\n", "a: {a: b:c}\n", "a: [a-, b]\n", "a: [-a, b]\n", "a: [a#b]\n", "a: [a' b]\n",
		"a: [\"x\", 'y']\n", "a: {\"x\": 'y'}\n", "a: [ [ ], { } ]\n", "a: [[a], [b]]\n", "a: {a: [b], c: {d: e}}\n",
		"a: [a]x\n", "a: [a] x\n", "a: [a] #x\n", "a: {a: 1}}\n", "a: [a]]\n", "a: [a, b,  c ]  \n",
		"a: \"x\\\"y\"\n", "a: \"\\\\\"\n", "a: \"\\x80\\xff\"\n", "a: \"\\u0000\"\n", "a: \"\\U0010FFFF\"\n", "a: \"\\U00110000\"\n",
		"a: \"\\ \"\n", "a: \"\\'\"\n", "a: \"\\\t\"\n", "a: 'a\\b'\n", "a: '\\'\n", "a: ''''\n", "a: '''\n", "'a''b': c\n",
		"\"a\\\"b\": c\n", "\"a\"b: c\n", "'a'b: c\n", "a: 'x'y\n", "a: \"x\\\n  y\"\n", "a: \"x\\\r\ny\"\n",
		"---\n", "--- \na: 1\n", "---\r\na: 1\r\n", "--- #c\na: 1\n", "---#c\na: 1\n", "---a: 1\n", "--- a: 1\n",
		"# c\n---\na: 1\n", "\n\n---\n\na: 1\n", "a: 1\n...\n", "a: 1\n---\n", "a:\n  --- \n", "a:\n--- x\n",
		"a: 1\n# c\n  # d\n    # e\nb: 2\n", "a:\n    # c\n  b: 1\n", "a:\n  - x\n # c\n  - y\n", "a:\n  - x\n   # c\n  - y\n",
		"- a\n", "a:\n  -\n  b: 1\n", "a:\n- x\n - y\n", "a:\n- x\n  - y\n", "a:\n -   b: 1\n     c: 2\n",
		"a:\n  - - - x\n      - y\n    - z\n  - w\n", "a:\n  - b:\n    - c\n    d: e\n", "a:\n  - b:\n   - c\n",
		"a:\n  - b:\n     - c\n", "a:\n  - b: 1\n   c: 2\n", "a:\n  b\n", "a:\n  [x, y]\n", "a:\n  {x: y}\n", "a:\n  \"x\"\n",
		"a:\n  x\n  y\n", "a:\n  x\n b: 1\n", "a:\n  x\nb: 1\n", "a:\n  x # c\nb:\n", "-\n", "a:\n-", "a:\n- ", "a:\n-  ",
		"a:\n-\n  x\n", "a:\n-\n- \n-  # c\n", "a: b  \n  \nc: d\n", "a: b\n  \n \n", "a: b\n   ", "a: 1\n\n\n",
		"a: b\r\n", "a: 'b'\r\n", "a: [b]\r\n", "a:\r\n  - b\r\n  - c: d\r\n", "a: b \r\n",
		"ключ: [é, ü]\n", "é: {ü: ö}\n", "é:\n- ü: 1\n  ö: 2\n", "😀😀: 😀\n", "é: \"é\\té\"\n",
		long(1000) + ": 1\n", long(1001) + ": 1\n", long(1030) + ": 1\n", "a: {" + long(998) + ": 1}\n",
		"- " + long(999) + ": 1\n", "a:\n- " + long(999) + ": 1\n", strings.Repeat("é", 600) + ": 1\n",
		"a: " + long(5000) + "\n", "a: [" + long(5000) + "]\n", "\"" + long(998) + "\": 1\n", "'" + long(1020) + "': 1\n",
		"a: 1\na: 2\n", "a:\n  b: 1\n  b: 2\n", "a: {b: 1, b: 2}\n", "1: a\n01: b\n",
		"a: 0b\n", "a: 0b1\n", "a: -0b1\n", "a: 0o8\n", "a: 0o\n", "a: 0x\n", "a: 0x1g\n", "a: 010\n", "a: 08\n",
		"a: 0.\n", "a: .\n", "a: ..\n", "a: ._\n", "a: .5_\n", "a: ._5\n", "a: .e5\n", "a: .5e5\n", "a: 1E+3\n", "a: 1e+\n",
		"a: -.inf\n", "a: +.nan\n", "a: -.nan\n", ".NaN: 1\n", "a: .Inf\n", "a: ~\n", "a: Null\n", "a: NULL\n", "a: nULL\n",
		"a: True\n", "a: yes\n", "a: on\n", "a: 2001-12-14t21:59:43.10-05:00\n", "a: 2002-12-14\n", "a: 2002-12-14 \n",
		"a: 2002-12-14 # c\n", "a: 2001-12-14 21:59:43.10\n", "a: 2001-12-14  21:59:43.10\n", "a: 2001-12-14T21:59:43.10Z\n",
		"a: +1_0\n", "a: 1__0\n", "a: _1\n", "a: 1_\n", "a: 0x_1\n", "a: 0_x1\n", "a: 9223372036854775808\n",
		"a: -9223372036854775808\n", "a: 1e400\n", "a: -1e400\n", "a: 0x1p3\n", "a: 1.5_5\n", "a: +\n", "a: +a\n", "a: +.\n",
		"a: Infinity\n", "a: inf\n", "a: NaN\n", "a: nan\n", "a: 1:20\n", "a: 190:20:30\n", "<<: {a: 1}\n", "a: <<\n",
		"a: \"<<\"\n", "a: [<<]\n", "a: {<<: 1}\n", "a: 0o17\n", "a: 0O17\n", "a: 0X1F\n", "a: 0B1\n", "a: +0b1\n",
		"a: [a, ]\n", "a: {a}\n", "a: {a: }\n", "a: {a: b, }\n", "a: [a b]\n", "a: [a  b, c]\n", "a: {a b: c d}\n",
		"a: [,]\n", "a: {,}\n", "a: [a,,b]\n", "a: [\"a\"b]\n", "a: [\"a\" , b]\n", "a: {\"a\" : b}\n", "a: {\"a\":b}\n",
		"a: {'a': b}\n", "a: {a: \"b\"c}\n", "a: {a: [b]c}\n", "a: [a]:\n", "a: [[a]: b]\n", "a: [{a: b}: c]\n",
		"a: {a: {b: c}d}\n", "a: [a, [b, [c, [d]]]]\n", "a: [ a ]\n", "a: [  ]\n", "a: {  }\n", "a: [a,b]\n", "a: {a: b,c: d}\n",
		"a: [a ,b]\n", "a: [a\t]\n", "a: [a] \n", "a: []]\n", "a: [a] [b]\n", "a: [a], [b]\n",
		"a #b: c\n", "a#b: c\n", "a: b #c: d\n", "a: b#c: d\n", "a: 'b' #c\n", "a: \"b\"  #c\n", "a: # c\n  b: 1\n",
		"a: x\u00a0: y\n", "a\u00a0: b\n", "a: \u2003\n", "a: x\u2003# y\n", "a: x \u2003# y\n",
		"? a\n", "?a: b\n", ":a: b\n", "a: ?b\n", "a: :b\n", "a: b?\n", "a: [b?]\n", "a: [?b]\n", "a: [b?c]\n",
		"a: !b\n", "a: b!\n", "a: &\n", "a: b&c\n", "a: b*c\n", "a: |b\n", "a: b|\n", "a: >b\n", "a: b>\n",
		"a: b%\n", "a: b@\n", "a: b`\n", "a: =\n", "a: <\n", "a: ~a\n", "a: '\n", "a: \"\n",
		"a: 1\nb: 2", "a: 'x'", "a: \"x\"", "a: [x]", "a: {x: y}", "a:\n- x", "a:\n  b: c", "a: # c",
		"a:\n b:\n  c:\n   d:\n    - e\n", "a: \n b: c\n", "a:   \n  - b\n", "a:\n\n\n  b: 1\n\n", "a:\n  \n  b: 1\n",
		"a:\n  b: 1\n\n c: 2\n", "a:\n  b: 1\n c: 2\n", "a:\n  - b\n  -c\n", "a:\n  - b\n  - -c\n", "a:\n  - b\n  --c\n",
		"a:\n  - b\n  - - \n", "a:\n  - b: c\n    - d\n", "a:\n  - [b]\n  - {c: d}\n", "a:\n  - \"b\"\n  - 'c'\n",
		"a:\n  -   b: c\n      d: e\n", "a:\n  -   b: c\n     d: e\n", "a:\n  -   b: c\n       d: e\n",
		"a:\n  - - b\n    - c\n  - d\n", "a:\n  - - b\n   - c\n", "a:\n- - b\n- c\n",
		"a: b\n\u00a0c: d\n", "a: b\n c: d\n", "\u3000: x\n", "a: b\n\nc:\n",
		"# head\na: 1\n", "#c\n  a: 1\n", "# c\n---\n# d\na: 1\n", "---\n# d\n\n  a: 1\n", "--- # c\n# d\na: 1\n",
		"a: 1 # c\n# d\nb: # e\n  # f\n  - x # g\n  # h\n", "a:\n  - # c\n    b: 1\n", "a:\n  -    # c\n    b: 1\n",
		"a:\n  -    # c\n      b: 1\n", "a:\n  -\n    - b\n", "a:\n  - \n   b: 1\n", "a:\n  -\n   - b\n",
		"a: [a, b]  # c\nb: {c: d} # e\n", "a: \"\" # c\n", "a: '' #c\n", "a:\n  \"b\": [c]\n", "a:\n  'b':\n  - c\n",
		"... a: b\n", "...: b\n", "... #c\na: 1\n", "...\r\na: 1\n", "a: 1\r\n...\r\n", "a: 1\n...", "--- \r\na: b\n",
		"a: 1\n--- #c\n", "a:\n  b: 1\n... \n", "a:\n  - b\n---\n", "a:\n- ...\n", "a:\n- --- \n", "a: ...\n", "a: ---\n",
		"a:\n  ... x: 1\n", "a:\n  ...x: 1\n", "-- a: 1\n", "a:\n  -- b\n", "a:\n  -a\n", "a:\n  -\u00e9: 1\n",
		"a:\n- b\n-c: d\n", "a:\n-\n-c: d\n",
	} {
		compare(t, fmt.Sprintf("%q", src), []byte(src))
	}
}

// TestSameTreeOnTokenSoup compares the trees of documents strung together
// from YAML's tokens at random, with no regard to structure: lines that
// start with a document marker, an indicator or a stray bracket ("... 0:"
// was read as a key).
func TestSameTreeOnTokenSoup(t *testing.T) {
	toks := []string{"---", "...", "- ", "-", "a", "b:", ": ", ":", " ", "  ", "#c", " #c", "'x'", "''", "\"x\"", "\"\\x41\"", "[", "]", "{", "}", ", ", ",",
		"? ", "\n", "\n", "\n", "\n  ", "\n- ", "\r\n", "é", ".", "0", "1", "~", "<<", "k: ", "\nk: ", "\n  k: ", "\n  - ", "x y", "%", "!", "&", "*", "|", ">", "@", "`"}
	r := rand.New(rand.NewPCG(7, 9))
	accepted := 0
	const n = 200000
	for range n {
		var b strings.Builder
		for range 1 + r.IntN(14) {
			b.WriteString(toks[r.IntN(len(toks))])
		}
		if compare(t, "token soup", []byte(b.String())) {
			accepted++
		}
		if t.Failed() {
			return
		}
	}
	t.Logf("%d of %d documents took the fast path", accepted, n)
}
