package filter

import (
	"io"
	"strings"
	"testing"
)

type kept struct{ n int }

func (*kept) Close() error { return nil }

type testKey struct{ route, name string }

type mapKeeper map[any]io.Closer

func (m mapKeeper) Keep(key any, create func() (io.Closer, error)) (io.Closer, error) {
	if v, ok := m[key]; ok {
		return v, nil
	}
	v, err := create()
	if err == nil {
		m[key] = v
	}
	return v, err
}

// Outside a gateway Keep just creates, so a filter needs no nil check.
func TestKeepWithoutKeeperCreates(t *testing.T) {
	bc := &BuildContext{}
	n := 0
	create := func() (io.Closer, error) { n++; return &kept{n}, nil }
	a, err := bc.Keep(testKey{"r", "a"}, create)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := bc.Keep(testKey{"r", "a"}, create)
	if n != 2 || a == b {
		t.Errorf("%d creates, values shared %v: outside a gateway every call creates", n, a == b)
	}
}

// Keys compare by value: equal fields share, and a separator inside a
// field cannot make two different keys meet, as glued strings did.
func TestKeepKeysCompareByValue(t *testing.T) {
	bc := &BuildContext{Keeper: mapKeeper{}}
	n := 0
	create := func() (io.Closer, error) { n++; return &kept{n}, nil }
	a, _ := bc.Keep(testKey{"r", "a"}, create)
	again, _ := bc.Keep(testKey{"r", "a"}, create)
	if a != again {
		t.Error("equal keys did not share the value")
	}
	glued1, _ := bc.Keep(testKey{"r/x", "a"}, create)
	glued2, _ := bc.Keep(testKey{"r", "x/a"}, create)
	if glued1 == glued2 {
		t.Error(`{"r/x","a"} and {"r","x/a"} share a value`)
	}
	type otherKey struct{ route, name string } // another package's key with the same fields
	other, _ := bc.Keep(otherKey{"r", "a"}, create)
	if other == a {
		t.Error("keys of different types share a value")
	}
}

// Keys that would panic in the keeper's map, or could collide across
// packages (built-in types), are refused at build time.
func TestKeepRefusesBadKeys(t *testing.T) {
	type sliceKey struct{ parts []string }
	type anyKey struct{ v any }
	bc := &BuildContext{Keeper: mapKeeper{}}
	create := func() (io.Closer, error) { return &kept{}, nil }
	for _, c := range []struct {
		key  any
		want string
	}{
		{nil, "nil key"},
		{"jwt/tokens", "type string: use a type of the filter's own package"},
		{struct{ a string }{"x"}, "use a type of the filter's own package"},
		{sliceKey{[]string{"a"}}, "not comparable"},
		{anyKey{[]string{"a"}}, "not comparable"},
	} {
		_, err := bc.Keep(c.key, create)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("key %#v: error %v, want one containing %q", c.key, err, c.want)
		}
	}
}
