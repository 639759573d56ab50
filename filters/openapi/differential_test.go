package openapi

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestDifferential runs a generated corpus through the checker, through
// jsonschema (the same oracle FuzzBody uses) and through encoding/json:
// JSON values shaped like testdata/fuzz.yaml's Doc, built from the values
// where validators disagree (number spellings at the bounds, escapes,
// surrogates, repeated keys, odd whitespace), then some of them damaged a
// byte at a time. Every input must get the oracle's answer.
func TestDifferential(t *testing.T) {
	mine, ref := fuzzOracle(t)
	rng := rand.New(rand.NewPCG(1, 2))
	n := 20000
	if testing.Short() {
		n = 2000
	}
	var valid, invalid, notJSON int
	for i := 0; i < n; i++ {
		var b bytes.Buffer
		g := gen{rng: rng, b: &b}
		g.doc()
		body := b.Bytes()
		if rng.IntN(4) == 0 {
			body = g.damage(body)
		}
		compareWithOracle(t, mine, ref, body)
		var ps problems
		ps.reset(10)
		switch {
		case !validateJSON(mine, body, "/body", true, &ps):
			notJSON++
		case ps.empty():
			valid++
		default:
			invalid++
		}
	}
	// The corpus must reach every outcome, or it proves little.
	if valid < n/50 || invalid < n/50 || notJSON < n/50 {
		t.Fatalf("corpus of %d: %d valid, %d invalid, %d not JSON", n, valid, invalid, notJSON)
	}
	t.Logf("corpus of %d: %d valid, %d invalid, %d not JSON", n, valid, invalid, notJSON)
}

type gen struct {
	rng   *rand.Rand
	b     *bytes.Buffer
	depth int
}

var (
	genKeys    = []string{"b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "z", `\u0062`, "q"}
	genNumbers = []string{"0", "-0", "1", "1.0", "1e2", "1E+2", "-5", "-6", "-5.0", "1000", "1001", "1000.0000000000000001",
		"999.99999999999999999", "0.5", "0.25", "1.5", "2", "4", "4.5", "100", "150.5", "-0.0", "0e0", "1e400", "-1e400",
		"1e-400", "12", "7", "3", "9007199254740993", "9223372036854775808", "2.0000000000000000001", "0.50000000000000000001",
		"3.9999999999999999999", "4.0000000000000000001", "1.9999999999999999", "10e-1", "0.1e1"}
	genStrings = []string{`""`, `"a"`, `"A"`, `"abcdefgh"`, `"abcdefghi"`, `"\u00e9"`, `"é"`, `"abc"`, `"b"`,
		`"\ud83d\ude00"`, `"😀"`, `"x"`, `"a\"b"`, `"a\\b"`, `"\u0000"`, `"a\/b"`, `"\t"`, `"cancelled"`}
	genSpaces = []string{"", "", "", " ", "\n", "\t", "\r\n", "  "}
)

func (g *gen) pick(list []string) string { return list[g.rng.IntN(len(list))] }

func (g *gen) ws() { g.b.WriteString(g.pick(genSpaces)) }

func (g *gen) doc() {
	g.ws()
	if g.rng.IntN(20) == 0 {
		g.value()
	} else {
		g.object(true)
	}
	g.ws()
}

func (g *gen) object(top bool) {
	g.b.WriteByte('{')
	n := g.rng.IntN(4)
	if top && g.rng.IntN(8) != 0 {
		n++
	}
	used := map[string]bool{}
	written := 0
	for i := 0; i < n; i++ {
		key := g.pick(genKeys)
		if top && i == 0 && g.rng.IntN(8) != 0 {
			key = []string{"a", "a", `\u0061`}[g.rng.IntN(3)]
		}
		if k := strings.Replace(key, `\u0062`, "b", 1); used[k] {
			continue // repeated keys come from damage, not here
		} else {
			used[k] = true
		}
		if written++; written > 1 {
			g.b.WriteByte(',')
		}
		g.ws()
		g.b.WriteString(`"` + key + `"`)
		g.ws()
		g.b.WriteByte(':')
		g.ws()
		g.value()
		g.ws()
	}
	g.b.WriteByte('}')
}

func (g *gen) value() {
	g.depth++
	defer func() { g.depth-- }()
	switch k := g.rng.IntN(12); {
	case k < 4:
		g.b.WriteString(g.pick(genNumbers))
	case k < 6:
		g.b.WriteString(g.pick(genStrings))
	case k == 6:
		g.b.WriteString([]string{"true", "false", "null"}[g.rng.IntN(3)])
	case k < 9 && g.depth < 4:
		g.b.WriteByte('[')
		for i, n := 0, g.rng.IntN(6); i < n; i++ {
			if i > 0 {
				g.b.WriteByte(',')
			}
			g.ws()
			g.value()
		}
		g.b.WriteByte(']')
	case g.depth < 4:
		g.object(false)
	default:
		g.b.WriteString(g.pick(genNumbers))
	}
}

// damage changes the body a little: a byte dropped, doubled, replaced or
// inserted, a key repeated, a BOM or a non-JSON space added.
func (g *gen) damage(body []byte) []byte {
	out := append([]byte(nil), body...)
	if len(out) == 0 {
		return out
	}
	at := g.rng.IntN(len(out))
	switch g.rng.IntN(7) {
	case 0:
		return append(out[:at], out[at+1:]...)
	case 1:
		return append(out[:at+1], out[at:]...)
	case 2:
		const set = `,:{}[]"\ 0123456789eE.+-ux`
		out[at] = set[g.rng.IntN(len(set))]
		return out
	case 3:
		ins := []string{"\xff", "\xc3", "\xef\xbb\xbf", "\u00a0", "\f", "\v", "\x00", "01", "NaN", ",", "\\u", `\ud800`, `\udc00`, `\ud83d`, "1e400"}
		return append(out[:at], append([]byte(g.pick(ins)), out[at:]...)...)
	case 4:
		if i := bytes.IndexByte(out, '{'); i >= 0 && i+1 < len(out) && out[i+1] != '}' {
			k := g.pick(genKeys)
			return append(out[:i+1], append([]byte(`"`+k+`":1,"`+k+`":2,`), out[i+1:]...)...)
		}
		return out
	case 5:
		return append([]byte("\xef\xbb\xbf"), out...)
	default:
		return append(out, g.pick([]string{"x", "{}", " 1", ",", "\x00", "]"})...)
	}
}

// TestDifferentialCorpusIsJSON: the undamaged generator writes JSON as
// encoding/json reads it, so a disagreement on undamaged input is about
// values, not syntax.
func TestDifferentialCorpusIsJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 2000; i++ {
		var b bytes.Buffer
		g := gen{rng: rng, b: &b}
		g.doc()
		if !json.Valid(b.Bytes()) && !strings.Contains(b.String(), "e400") {
			t.Fatalf("generated %q: not JSON", b.Bytes())
		}
	}
}
