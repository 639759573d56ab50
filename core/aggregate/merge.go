package aggregate

import (
	"encoding/json"
)

// object is the response being assembled: keys in the order they were
// first placed, values raw JSON or a nested group. A key placed again is
// replaced in place (a later call wins).
type object struct {
	keys  []string
	vals  []json.RawMessage
	group []*object // non-nil where the value is a group
	byKey map[string]int
}

// scanKeys is how many keys are looked up by a scan before a map pays.
const scanKeys = 16

func (o *object) index(key string) int {
	if o.byKey != nil {
		if i, ok := o.byKey[key]; ok {
			return i
		}
		return -1
	}
	for i, k := range o.keys {
		if k == key {
			return i
		}
	}
	return -1
}

func (o *object) add(key string, v json.RawMessage, g *object) {
	o.keys = append(o.keys, key)
	o.vals = append(o.vals, v)
	o.group = append(o.group, g)
	switch n := len(o.keys); {
	case n > scanKeys && o.byKey == nil:
		o.byKey = make(map[string]int, 2*n)
		for i, k := range o.keys {
			o.byKey[k] = i
		}
	case o.byKey != nil:
		o.byKey[key] = n - 1
	}
}

func (o *object) set(key string, v json.RawMessage) {
	if i := o.index(key); i >= 0 {
		o.vals[i], o.group[i] = v, nil
		return
	}
	o.add(key, v, nil)
}

// child returns the group under key, creating it (or replacing a value).
func (o *object) child(key string) *object {
	if i := o.index(key); i >= 0 {
		if o.group[i] == nil {
			o.group[i], o.vals[i] = &object{}, nil
		}
		return o.group[i]
	}
	g := &object{}
	o.add(key, nil, g)
	return g
}

func (o *object) size() int {
	n := 2
	for i, k := range o.keys {
		n += len(k) + 4
		if o.group[i] != nil {
			n += o.group[i].size()
		} else {
			n += len(o.vals[i])
		}
	}
	return n
}

func (o *object) appendTo(b []byte) []byte {
	b = append(b, '{')
	for i, k := range o.keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		if o.group[i] != nil {
			b = o.group[i].appendTo(b)
		} else {
			b = append(b, o.vals[i]...)
		}
	}
	return append(b, '}')
}

// place puts one call's shaped result where its config says.
func (o *object) place(c *call, r *outcome) {
	at := o
	if c.group != "" {
		at = o.child(c.group)
	}
	if !c.merge {
		at.set(c.as, r.placed)
		return
	}
	for _, f := range r.fields {
		at.set(f.key, f.val)
	}
}
