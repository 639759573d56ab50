package main

import (
	"strconv"

	"github.com/wasmgate/wasmgate/plugins/internal/jsonx"
)

// apply edits doc in place and reports whether anything changed.
func (ops *jsonOps) apply(doc *jsonx.Value) bool {
	changed := false
	if doc.Kind == jsonx.Object {
		for _, in := range ops.inject {
			changed = inject(doc, in.path, in.val) || changed
		}
	}
	for _, p := range ops.mask {
		changed = mask(doc, p, &ops.maskWith) || changed
	}
	return changed
}

// inject sets the value at path, creating objects on the way; a non-object
// in the way leaves the document as it is.
func inject(obj *jsonx.Value, path []string, val jsonx.Value) bool {
	for _, seg := range path[:len(path)-1] {
		next := obj.Get(seg)
		if next == nil {
			obj.Set(seg, jsonx.Value{Kind: jsonx.Object})
			next = obj.Get(seg)
		}
		if next.Kind != jsonx.Object {
			return false
		}
		obj = next
	}
	obj.Set(path[len(path)-1], val)
	return true
}

// mask replaces every value matching path with the mask.
func mask(v *jsonx.Value, path []string, with *jsonx.Value) bool {
	if len(path) == 0 {
		*v = *with
		return true
	}
	seg, rest := path[0], path[1:]
	changed := false
	switch v.Kind {
	case jsonx.Object:
		for i := range v.Members {
			if seg == "*" || v.Members[i].Key == seg {
				changed = mask(&v.Members[i].Val, rest, with) || changed
			}
		}
	case jsonx.Array:
		if i, err := strconv.Atoi(seg); err == nil {
			if i >= 0 && i < len(v.Items) {
				return mask(&v.Items[i], rest, with)
			}
			return false
		}
		if seg == "*" {
			for i := range v.Items {
				changed = mask(&v.Items[i], rest, with) || changed
			}
			return changed
		}
		for i := range v.Items { // a name applies to each item
			changed = mask(&v.Items[i], path, with) || changed
		}
	}
	return changed
}
