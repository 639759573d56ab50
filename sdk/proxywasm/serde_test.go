package proxywasm

import (
	"slices"
	"testing"
)

func TestSerializeMapRoundTrip(t *testing.T) {
	cases := [][][2]string{
		{{":path", "/users/42"}, {"x-empty", ""}, {"content-type", "application/json"}},
		{{"k", "v"}},
		{{"", ""}},
	}
	for _, pairs := range cases {
		got := deserializeMap(slices.Clone(serializeMap(pairs)))
		if !slices.Equal(got, pairs) {
			t.Errorf("round trip of %q = %q", pairs, got)
		}
	}
}

func TestSerializeMapLayout(t *testing.T) {
	// One pair "a"="bc": count 1, sizes 1 and 2, then "a\0bc\0".
	want := []byte{1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 'a', 0, 'b', 'c', 0}
	if got := serializeMap([][2]string{{"a", "bc"}}); !slices.Equal(got, want) {
		t.Fatalf("serializeMap = %v, want %v", got, want)
	}
}

func TestDeserializeMapRejectsTruncated(t *testing.T) {
	b := serializeMap([][2]string{{"key", "value"}, {"k2", "v2"}})
	for n := range len(b) {
		got := deserializeMap(slices.Clone(b[:n]))
		if len(got) > 1 {
			t.Fatalf("truncated to %d bytes: got %d pairs", n, len(got))
		}
	}
	if got := deserializeMap(nil); got != nil {
		t.Fatalf("empty map = %q", got)
	}
	if got := deserializeMap([]byte{0}); got != nil {
		t.Fatalf("single NUL map = %q", got)
	}
}

func TestSerializePath(t *testing.T) {
	if got := string(serializePath([]string{"request", "path"})); got != "request\x00path" {
		t.Fatalf("serializePath = %q", got)
	}
	if got := serializePath(nil); len(got) != 0 {
		t.Fatalf("empty path = %q", got)
	}
}
