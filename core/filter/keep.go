package filter

import (
	"fmt"
	"io"
	"reflect"
)

// Keeper holds values that outlive a snapshot: the gateway implements it
// (core/gateway/keep.go). A value stays while some live snapshot asked for
// its key; the last snapshot to let go of it closes it.
type Keeper interface {
	Keep(key any, create func() (io.Closer, error)) (io.Closer, error)
}

// Keep returns the value kept under key, creating it with create on first
// use. Filters use it for state that must survive a reload that leaves
// their config as it was: compiled modules, rate-limit buckets, JWKS and
// token caches, client pools. A new snapshot that does not ask for a key
// lets its value be closed after the swap. Outside a gateway (no Keeper)
// every call creates.
//
// A key is a comparable value of a type its package defines, usually an
// unexported struct holding what the value depends on, as context keys
// are: two packages can then never share a key by accident, and no
// separator inside a name can make two different keys equal.
func (bc *BuildContext) Keep(key any, create func() (io.Closer, error)) (io.Closer, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if bc.Keeper == nil {
		return create()
	}
	return bc.Keeper.Keep(key, create)
}

// checkKey refuses what would panic as a map key or could collide across
// packages; it runs at load only.
func checkKey(key any) error {
	v := reflect.ValueOf(key)
	switch {
	case !v.IsValid():
		return fmt.Errorf("keep: nil key")
	case v.Type().PkgPath() == "":
		return fmt.Errorf("keep: key of type %s: use a type of the filter's own package", v.Type())
	case !v.Comparable():
		return fmt.Errorf("keep: key of type %s is not comparable", v.Type())
	}
	return nil
}
