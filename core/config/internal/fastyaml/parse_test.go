package fastyaml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wasmgate/wasmgate/internal/bigconfig"
)

// reference is what core/config does with yaml.v3: one document, decoded
// into a yaml.Node.
func reference(src []byte) (doc *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml.v3 panicked: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(src))
	doc = &yaml.Node{}
	if err := dec.Decode(doc); err != nil {
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("not one document: %v", err)
	}
	return doc, nil
}

// diff describes the first difference between two trees, comments aside,
// or returns "".
func diff(path string, want, got *yaml.Node) string {
	switch {
	case want == nil && got == nil:
		return ""
	case want == nil || got == nil:
		return fmt.Sprintf("%s: want %v, got %v", path, want, got)
	}
	type fields struct {
		Kind          yaml.Kind
		Style         yaml.Style
		Tag, Value    string
		Anchor        string
		Line, Column  int
		Alias, Len    bool
		ContentLength int
	}
	w := fields{want.Kind, want.Style, want.Tag, want.Value, want.Anchor, want.Line, want.Column, want.Alias != nil, false, len(want.Content)}
	g := fields{got.Kind, got.Style, got.Tag, got.Value, got.Anchor, got.Line, got.Column, got.Alias != nil, false, len(got.Content)}
	if w != g {
		return fmt.Sprintf("%s: want %+v, got %+v", path, w, g)
	}
	for i := range want.Content {
		if d := diff(fmt.Sprintf("%s/%d", path, i), want.Content[i], got.Content[i]); d != "" {
			return d
		}
	}
	return ""
}

// compare checks that whenever Parse accepts src, yaml.v3 reads the same
// tree from it; it returns whether Parse accepted.
func compare(t testing.TB, name string, src []byte) bool {
	t.Helper()
	got, ok := parse(src)
	if !ok {
		return false
	}
	want, err := reference(src)
	if err != nil {
		t.Errorf("%s: the fast parser accepted what yaml.v3 refuses (%v):\n%s", name, err, src)
		return true
	}
	if d := diff("doc", want, got); d != "" {
		t.Errorf("%s: trees differ at %s\n%s", name, d, src)
	}
	return true
}

func repoRoot(t *testing.T) string {
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/wasmgate/wasmgate\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod of github.com/wasmgate/wasmgate above the test")
		}
		dir = parent
	}
}

var fencedYAML = regexp.MustCompile("(?s)```ya?ml\n(.*?)```")

// TestSameTreeAsYAMLv3OnRepoFiles compares the trees of every YAML file
// of the repository (configs, examples, test data, the embedded demo) and
// every YAML block of its Markdown; the configs shipped must take the fast
// path.
func TestSameTreeAsYAMLv3OnRepoFiles(t *testing.T) {
	root := repoRoot(t)
	files, accepted := 0, 0
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name == ".git" || name == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		ext := filepath.Ext(path)
		if ext != ".yaml" && ext != ".yml" && ext != ".md" {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		docs := [][]byte{src}
		if ext == ".md" {
			docs = nil
			for _, m := range fencedYAML.FindAllSubmatch(src, -1) {
				docs = append(docs, m[1])
			}
		}
		for i, doc := range docs {
			files++
			if compare(t, fmt.Sprintf("%s#%d", rel, i), doc) {
				accepted++
				seen[rel] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d of %d documents took the fast path", accepted, files)
	for _, must := range []string{"cmd/wasmgate/demo/demo.yaml", "core/config/testdata/full.yaml"} {
		if !seen[must] {
			t.Errorf("%s did not take the fast path", must)
		}
	}
	if files < 30 || accepted*2 < files {
		t.Errorf("only %d of %d documents took the fast path", accepted, files)
	}
}

// TestResolveAsYAMLv3 pins the tags of plain scalars, each checked
// against yaml.v3 too.
func TestResolveAsYAMLv3(t *testing.T) {
	cases := map[string]string{
		"~": "!!null", "null": "!!null", "Null": "!!null", "NULL": "!!null", "nULL": "!!str",
		"true": "!!bool", "True": "!!bool", "TRUE": "!!bool", "false": "!!bool", "tRUE": "!!str",
		"yes": "!!str", "no": "!!str", "on": "!!str", "off": "!!str", "y": "!!str", "Y": "!!str",
		"0": "!!int", "-1": "!!int", "+1": "!!int", "1_000": "!!int", "0x1F": "!!int", "0o17": "!!int",
		"0b101": "!!int", "017": "!!int", "09": "!!float", "-0x10": "!!int", "18446744073709551615": "!!int",
		"18446744073709551616": "!!float", "1.5": "!!float", ".5": "!!float", "-.5": "!!float", "1e3": "!!float",
		"1.": "!!float", "1e": "!!str", "+.inf": "!!float", "-.Inf": "!!float", ".INF": "!!float", ".nan": "!!float",
		".NaN": "!!float", ".Nan": "!!str", ".": "!!str", "+": "!!str", "1_0.5": "!!float",
		"30s": "!!str", "1.2.3": "!!str", "127.0.0.1:8080": "!!str", "<<": "!!merge", "<": "!!str",
		"0x": "!!str", "_1": "!!str", "1__": "!!int", "é": "!!str", "0.1e-3": "!!float",
		"12345": "!!int", "123-4": "!!str", "+0x1_0": "!!int", "-9223372036854775809": "!!float",
		"2024-01-02": "!!timestamp", "2024-1-2": "!!timestamp", "2001-12-14t21:59:43.10-05:00": "!!timestamp",
		"2001-12-14T21:59:43Z": "!!timestamp", "2001-12-14 21:59:43.10": "!!timestamp", "2001-12-14 21:59:43.10 -5": "!!str",
		"2024-13-01": "!!str", "2024-01-02x": "!!str", "1234-5": "!!str", "1234-": "!!str",
	}
	for in, tag := range cases {
		if got := resolve(in); got != tag {
			t.Errorf("resolve(%q) = %q, want %q", in, got, tag)
		}
		want, err := reference([]byte("k: " + in + "\n"))
		if err != nil {
			t.Fatalf("yaml.v3 on %q: %v", in, err)
		}
		if w := want.Content[0].Content[1].Tag; w != tag {
			t.Errorf("the table says %q is %s; yaml.v3 says %s", in, tag, w)
		}
	}
	// Timestamps and odd binary and octal forms are left to yaml.v3.
	for _, in := range []string{"0o-7", "0b+1", "-0b", "0o"} {
		if got := resolve(in); got != "" {
			t.Errorf("resolve(%q) = %q, want it left to yaml.v3", in, got)
		}
	}
}

// TestAcceptsTheSubset checks the constructs configs are written with
// take the fast path, with yaml.v3's tree.
func TestAcceptsTheSubset(t *testing.T) {
	for _, src := range []string{
		"a: 1\n",
		"---\na: 1\n",
		"--- # c\n\na: 1\n",
		"# head\n\n  a: 1\n  b:\n",
		"a: value # comment\nb: \"x: y\"\nc: 'it''s'\nd: \"\\u00e9\\t\\x41\\U0001F600\\N\\_\\L\\P\\0\\e\"\n",
		"a:\n- x\n- y\nb:\n  - - p\n    - q\n  - r: 1\n    s: 2\n  -\n  - # c\n    t: 3\n",
		"routes:\n  - name: r\n    match: { hosts: [a.example.com], path: \"/x/{id}\", methods: [GET, POST] }\n    filters: [{ headers: { request: { set: { X-Item: \"{id}\" } } } }]\n",
		"a: [ ]\nb: {}\nc: [a , b,c]\nd: {x: -1, \"y\": 'z'}\n",
		"a: b\r\nc:\r\n  - d\r\n",
		"ключ: значение\n名前: 値 # c\n\"é\": [ü, ö]\n",
		"a:b: c\n",
		"a: b#c\nd: e  \nf:   \ng: ''\nh: \"\"\n",
		"url: http://127.0.0.1:8080/x?y=1#z\n",
		"a:\n  b:\n    c:\n      d: [1, 2.5, .inf, ~, true, 0o17, 1_000]\n",
		"a:",
		"a:\n",
		"x:\n  - a: 1\n    b: 2\n  - c\n",
		"a: -1\nb: -x\n-c: d\n",
		"a:\n  'q': 1\n  \"r\": 2\n",
		"a: 1\n# trailing\n",
		"a:\n  b: 1\n# low comment\n  c: 2\n",
		"😀: 😀 x\nb: [😀, {é: 😀}]\n", "a: \u00a0x\n\u00a0: 1\n", "a: x\u3000y\n", "a: \u200fx\u200e\n",
		"\U0010FFFD: \U0001FFFE\n", "a: \ufffd\n",
	} {
		if !compare(t, fmt.Sprintf("%q", src), []byte(src)) {
			t.Errorf("refused %q", src)
		}
	}
}

// TestRefusesWhatItDoesNotKnow checks the constructs outside the subset
// and the errors go to yaml.v3.
func TestRefusesWhatItDoesNotKnow(t *testing.T) {
	for _, src := range []string{
		"", "\n# only a comment\n", "a\n", "- a\n", "[a]\n", "{a: 1}\n",
		"a: &x 1\nb: *x\n", "a: !!str 1\n", "a: |\n  x\n", "a: >\n  x\n",
		"a: b\n  c\n", "a: 'x\n  y'\n", "a: [x,\n  y]\n", "? a\n: b\n", "a:\tb\n", "\ta: b\n",
		"%YAML 1.2\n---\na: 1\n", "a: 1\n---\nb: 2\n", "a: 1\n...\n", "\ufeffa: 1\n",
		"a: b: c\n", "a : b\n", "a: 'x' y\n", "a: \"x\"#c\n", "a: [x,]\n", "a: [x: 1]\n", "a: {x}\n",
		"a: {x: }\n", "a: [a:]\n", "a: [a:,b]\n", "a: {a:1}\n", "a: \"\\/\"\n", "a: \"\\ud800\"\n", "a: \"\\q\"\n",
		"a: 1\n b: 2\n", "a:\n  - x\n  b: 1\n", "- a: 1\n  - b\n", "a: b\rc: d\n", "a: \x01\n",
		"a: {" + strings.Repeat("k", 1100) + ": 1}\n", "- " + strings.Repeat("k", 1100) + ": 1\n",
		"a: @x\n", "a: `x`\n", "a: %x\n", "a: - b\n", "a: x\u2028y\n", "a: x\u0085y\n", "a: \xff\n",
		"a: 1\nb\n", "  a: 1\nb: 2\n", "... 0:\n", "...\na: 1\n",
		"a: \"x\\\n  y\"\n", "a: \"x\\\r\n  y\"\n", "a: [\"x\\\n\"]\n",
	} {
		if _, ok := parse([]byte(src)); ok {
			t.Errorf("accepted %q", src)
		}
		compare(t, fmt.Sprintf("%q", src), []byte(src))
	}
}

// TestDeepNesting: past maxDepth the parse is yaml.v3's.
func TestDeepNesting(t *testing.T) {
	var b strings.Builder
	for i := range maxDepth + 5 {
		fmt.Fprintf(&b, "%sk%d:\n", strings.Repeat(" ", i), i)
	}
	if _, ok := parse([]byte(b.String())); ok {
		t.Error("accepted nesting past maxDepth")
	}
	b.Reset()
	b.WriteString("root:\n")
	for i := range 200 {
		fmt.Fprintf(&b, "%s- k%d:\n", strings.Repeat(" ", 2*i), i)
	}
	if !compare(t, "deep", []byte(b.String())) {
		t.Error("refused nesting 400 deep")
	}
	flow := "a: " + strings.Repeat("[", 300) + strings.Repeat("]", 300) + "\n"
	if !compare(t, "deep flow", []byte(flow)) {
		t.Error("refused flow nesting 300 deep")
	}
}

// TestSameTreeOnGeneratedDocuments compares the trees of random documents
// built from the subset's constructs and from some just outside it.
func TestSameTreeOnGeneratedDocuments(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	accepted := 0
	const n = 10000
	for i := range n {
		src := generate(r)
		if compare(t, fmt.Sprintf("generated %d", i), []byte(src)) {
			accepted++
		}
	}
	t.Logf("%d of %d generated documents took the fast path", accepted, n)
	if accepted < n/5 {
		t.Errorf("only %d of %d generated documents took the fast path", accepted, n)
	}
}

// genScalars are in the subset, genOdd mostly not.
var (
	genScalars = []string{
		"a", "b c", "x-y", "-1", "0", "1.5", ".5", "1_000", "0x1F", "0o17", "true", "False", "yes", "on",
		"null", "~", "<<", "2024-01-01", "2024-1-1 10:00:00", "http://h:80/p?q#f", "a#b", "é", "名前", "'s'", "'it''s'", "\"d\"", "\"x: y\"",
		"\"\\u00e9\\t\"", "\"\"", "''", "+.inf", ".nan", "1e3", "09", "a:b", "-x", "$x", "${ENV}", "/p/{id}",
	}
	genOdd = []string{
		"[x]", "{k: v}", "[a, 'b', \"c\"]", "{a: [1, 2], b: {c: d}}", "[]", "{}", "{ a: 1 }", "[ a ]",
		"a # c", "\"a\" # c", "&a x", "*a", "!t x", "|", "a: b", "- x", "? x", "[a,]", "\"\\/\"",
		"{a: }", "[a: 1]", "'a''", "a:", "\"\\x4\"", "[a, [b, {c: [d]}]]", "{\"a\": 1}", "0b2", "[o:r, a:1]", "{s: [x:y]}", "[a:, b]", "[http://x]",
	}
)

func genScalar(r *rand.Rand) string {
	switch r.IntN(8) {
	case 0:
		return genOdd[r.IntN(len(genOdd))]
	case 1:
		return genFlow(r, 0)
	}
	return genScalars[r.IntN(len(genScalars))]
}

// genFlow writes a random one-line flow collection, with random spacing.
func genFlow(r *rand.Rand, depth int) string {
	sp := func() string { return strings.Repeat(" ", r.IntN(3)) }
	item := func() string {
		if depth < 3 && r.IntN(4) == 0 {
			return genFlow(r, depth+1)
		}
		if r.IntN(12) == 0 {
			return genOdd[r.IntN(len(genOdd))]
		}
		return genScalars[r.IntN(len(genScalars))]
	}
	var b strings.Builder
	mapping := r.IntN(2) == 0
	if mapping {
		b.WriteString("{" + sp())
	} else {
		b.WriteString("[" + sp())
	}
	for i := range r.IntN(4) {
		if i > 0 {
			b.WriteString(sp() + "," + sp())
		}
		if mapping {
			b.WriteString(genScalars[r.IntN(len(genScalars))] + ":" + strings.Repeat(" ", r.IntN(3)) + item())
		} else {
			b.WriteString(item())
		}
	}
	if mapping {
		b.WriteString(sp() + "}")
	} else {
		b.WriteString(sp() + "]")
	}
	return b.String()
}

// generate writes a random document of nested blocks.
func generate(r *rand.Rand) string {
	var b strings.Builder
	if r.IntN(8) == 0 {
		b.WriteString("---\n")
	}
	genMapping(r, &b, 0, 0, false)
	return b.String()
}

func genMapping(r *rand.Rand, b *strings.Builder, ind, depth int, inSeq bool) {
	entries := 1 + r.IntN(4)
	for e := range entries {
		if !(inSeq && e == 0) {
			b.WriteString(strings.Repeat(" ", ind))
		}
		if r.IntN(10) == 0 {
			// A comment line, at any indentation, or a blank line.
			b.WriteString("# comment\n" + strings.Repeat(" ", r.IntN(ind+3)) + "# c\n\n" + strings.Repeat(" ", ind))
		}
		key := genScalar(r)
		if r.IntN(3) > 0 {
			key = fmt.Sprintf("k%d", e)
		}
		b.WriteString(key + ":")
		genValue(r, b, ind, depth)
	}
}

func genValue(r *rand.Rand, b *strings.Builder, ind, depth int) {
	switch k := r.IntN(10); {
	case depth < 4 && k < 3:
		b.WriteString("\n")
		genMapping(r, b, ind+1+r.IntN(3), depth+1, false)
	case depth < 4 && k < 5:
		b.WriteString("\n")
		genSequence(r, b, ind+r.IntN(3), depth+1)
	case k == 5:
		b.WriteString(strings.Repeat(" ", r.IntN(2)) + "\n")
	default:
		b.WriteString(" " + genScalar(r))
		if r.IntN(6) == 0 {
			b.WriteString("  # c")
		}
		b.WriteString("\n")
	}
}

// genSequence writes a block sequence at indentation ind; compact, its
// first "-" follows another on the line ("- - a").
func genSequence(r *rand.Rand, b *strings.Builder, ind, depth int, compact ...bool) {
	for e := range 1 + r.IntN(3) {
		if e > 0 || len(compact) == 0 {
			b.WriteString(strings.Repeat(" ", ind))
		}
		b.WriteString("-")
		switch k := r.IntN(7); {
		case depth < 4 && k == 6:
			b.WriteString(" ")
			genSequence(r, b, ind+2, depth+1, true)
		case depth < 4 && k < 2:
			b.WriteString(" ")
			genMapping(r, b, ind+2, depth+1, true)
		case depth < 4 && k == 2:
			b.WriteString("\n")
			genMapping(r, b, ind+2, depth+1, false)
		case k == 3:
			b.WriteString("\n")
		default:
			b.WriteString(" " + genScalar(r) + "\n")
		}
	}
}

// FuzzFastYAML: whenever the fast parser accepts an input, yaml.v3 reads
// the same tree from it.
func FuzzFastYAML(f *testing.F) {
	for _, seed := range []string{
		"key: value # c\n", "a: \"x: y\"\n", "- - a\n", "a: b: c\n", "a: 'it''s'\n", "a: \"\\u00e9\\t\"\n",
		"a:b\n", "- a: 1\n  b: 2\n", "a: b   \n", "a: b\r\nc: d\r\n", "a: ~\n", "a: 0o17\n", "a: 1_000\n",
		"a: .5\n", "a: +.inf\n", "a: yes\n", "a: on\n", "a: null\n", "a: \"\"\n", "a:\nb:", "a:",
		"a:\n  b:\n    c:\n      - d:\n          - [e, {f: g}]\n", "ключ: значение\n", "名前:\n- 値\n",
		"---\na: [GET, POST]\n", "a: {x: 1, y: [2]}\n", "a:\n- b\n- c\nd: e\n", "a: -1\n", "<<: x\n",
		"a: 2024-01-01\n", "a: 09\n", "a: 0b2\n", "a: 'x'  # c\n", "\"k\": v\n", "a: [\"\\x41\", '']\n",
		"... 0:",
	} {
		f.Add([]byte(seed))
	}
	// Whole documents, for structure the mutator would not build.
	r := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		f.Add([]byte(generate(r)))
	}
	f.Add(bigconfig.Routes(20, ""))
	f.Fuzz(func(t *testing.T, src []byte) {
		compare(t, "fuzz", src)
	})
}

// TestLongNonASCIILine: columns on a long line are counted once, not from
// the line's start for every node (quadratic: over 90 s here).
func TestLongNonASCIILine(t *testing.T) {
	src := "k: [" + strings.Repeat("é, ", 200000) + "é]\n"
	start := time.Now()
	if !compare(t, "long line", []byte(src)) {
		t.Fatal("refused")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
}
