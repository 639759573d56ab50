package config

import (
	"testing"

	"go.yaml.in/yaml/v3"
)

// NodeKey tells blocks apart by what they say, not how they are written:
// layout, quotes that do not change a value's type, comments and position
// do not matter; a value, a key, a type or the order of a list does; and a
// block holding an alias has no key.
func TestNodeKey(t *testing.T) {
	key := func(src string) ([32]byte, bool) {
		t.Helper()
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
			t.Fatal(err)
		}
		return NodeKey(documentContent(&doc))
	}
	base, ok := key(`{ set: { X-Item: "{id}" }, remove: [a, b] }`)
	if !ok {
		t.Fatal("a plain block has no key")
	}
	for _, same := range []string{
		"set:\n  X-Item: '{id}'\nremove:\n  - a\n  - b # comment\n",
		"\n\n{set: {X-Item: \"{id}\"}, remove: [\"a\", b]}",
	} {
		if k, _ := key(same); k != base {
			t.Errorf("%q has another key than the same block written otherwise", same)
		}
	}
	for _, other := range []string{
		`{ set: { X-Item: "{ID}" }, remove: [a, b] }`,
		`{ set: { X-Iteme: "{id}" }, remove: [a, b] }`,
		`{ set: { X-Item: "{id}" }, remove: [b, a] }`,
		`{ set: { X-Item: "{id}" }, remove: [a, b, c] }`,
		`{ set: { X-Item: "{id}" }, remove: [ab] }`,
		`{ set: [X-Item, "{id}"], remove: [a, b] }`,
	} {
		if k, _ := key(other); k == base {
			t.Errorf("%q has the key of another block", other)
		}
	}
	if a, _ := key(`{ max: 10 }`); a == func() [32]byte { k, _ := key(`{ max: "10" }`); return k }() {
		t.Error("a number and a string of the same text have one key")
	}
	if _, ok := key("base: &b { x: 1 }\nuse: *b\n"); ok {
		t.Error("a block with an alias has a key")
	}
}
