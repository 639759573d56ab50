package main

import (
	"errors"
	"strings"

	"github.com/wasmgate/wasmgate/plugins/internal/jsonx"
)

// config is the plugin configuration; both directions are optional:
//
//	{
//	  "request": {
//	    "headers": {"remove": ["x-debug"], "rename": {"x-old": "x-new"},
//	                "set": {"x-env": "prod"}, "add": {"x-via": "wasmgate"}},
//	    "json":    {"inject": {"meta.source": "gateway"}, "mask": ["password"]}
//	  },
//	  "response": {
//	    "json":    {"mask": ["user.ssn", "cards.*.number"], "mask_with": "****"}
//	  }
//	}
//
// Header operations run in the order remove, rename, set, add. JSON paths are
// dotted; "*" matches every member or item, a number selects an array item,
// and any other name applied to an array applies to each of its items.
type config struct {
	request, response direction
}

type direction struct {
	headers headerOps
	json    *jsonOps // nil: bodies pass untouched
}

type headerOps struct {
	remove           []string
	rename, set, add [][2]string
}

type jsonOps struct {
	inject   []injection
	mask     [][]string
	maskWith jsonx.Value
}

type injection struct {
	path []string
	val  jsonx.Value
}

func parseConfig(data []byte) (*config, error) {
	root, err := jsonx.Parse(data)
	if err != nil {
		return nil, errors.New("the configuration is not JSON: " + err.Error())
	}
	if root.Kind != jsonx.Object {
		return nil, errors.New(`the configuration must be an object with "request" and/or "response"`)
	}
	c := &config{}
	for i := range root.Members {
		m := &root.Members[i]
		switch m.Key {
		case "request":
			err = parseDirection(&m.Val, "request", &c.request)
		case "response":
			err = parseDirection(&m.Val, "response", &c.response)
		default:
			err = errors.New(`unknown field "` + m.Key + `"; valid: "request", "response"`)
		}
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

func parseDirection(v *jsonx.Value, at string, d *direction) error {
	if v.Kind != jsonx.Object {
		return errors.New(at + `: must be an object with "headers" and/or "json"`)
	}
	for i := range v.Members {
		m := &v.Members[i]
		where := at + "." + m.Key
		switch m.Key {
		case "headers":
			if err := parseHeaders(&m.Val, where, &d.headers); err != nil {
				return err
			}
		case "json":
			ops, err := parseJSON(&m.Val, where)
			if err != nil {
				return err
			}
			d.json = ops
		default:
			return errors.New(where + `: unknown field; valid: "headers", "json"`)
		}
	}
	return nil
}

func parseHeaders(v *jsonx.Value, at string, h *headerOps) error {
	if v.Kind != jsonx.Object {
		return errors.New(at + `: must be an object with "remove", "rename", "set" and/or "add"`)
	}
	for i := range v.Members {
		m := &v.Members[i]
		where := at + "." + m.Key
		switch m.Key {
		case "remove":
			if m.Val.Kind != jsonx.Array {
				return errors.New(where + ": must be a list of header names")
			}
			for _, it := range m.Val.Items {
				if it.Kind != jsonx.String || it.Str == "" {
					return errors.New(where + ": must be a list of header names")
				}
				h.remove = append(h.remove, it.Str)
			}
		case "rename", "set", "add":
			if m.Val.Kind != jsonx.Object {
				return errors.New(where + `: must be an object of header names to strings`)
			}
			var pairs [][2]string
			for _, kv := range m.Val.Members {
				if kv.Val.Kind != jsonx.String || kv.Key == "" || (m.Key == "rename" && kv.Val.Str == "") {
					return errors.New(where + "." + kv.Key + ": must be a string")
				}
				pairs = append(pairs, [2]string{kv.Key, kv.Val.Str})
			}
			switch m.Key {
			case "rename":
				h.rename = pairs
			case "set":
				h.set = pairs
			case "add":
				h.add = pairs
			}
		default:
			return errors.New(where + `: unknown field; valid: "remove", "rename", "set", "add"`)
		}
	}
	return nil
}

func parseJSON(v *jsonx.Value, at string) (*jsonOps, error) {
	if v.Kind != jsonx.Object {
		return nil, errors.New(at + `: must be an object with "inject", "mask" and/or "mask_with"`)
	}
	ops := &jsonOps{maskWith: jsonx.StringValue("****")}
	for i := range v.Members {
		m := &v.Members[i]
		where := at + "." + m.Key
		switch m.Key {
		case "inject":
			if m.Val.Kind != jsonx.Object {
				return nil, errors.New(where + ": must be an object of field paths to JSON values")
			}
			for _, kv := range m.Val.Members {
				p, err := splitPath(kv.Key, where)
				if err != nil {
					return nil, err
				}
				ops.inject = append(ops.inject, injection{path: p, val: kv.Val})
			}
		case "mask":
			if m.Val.Kind != jsonx.Array {
				return nil, errors.New(where + ": must be a list of field paths")
			}
			for _, it := range m.Val.Items {
				if it.Kind != jsonx.String {
					return nil, errors.New(where + ": must be a list of field paths")
				}
				p, err := splitPath(it.Str, where)
				if err != nil {
					return nil, err
				}
				ops.mask = append(ops.mask, p)
			}
		case "mask_with":
			ops.maskWith = m.Val
		default:
			return nil, errors.New(where + `: unknown field; valid: "inject", "mask", "mask_with"`)
		}
	}
	return ops, nil
}

func splitPath(s, at string) ([]string, error) {
	p := strings.Split(s, ".")
	for _, seg := range p {
		if seg == "" {
			return nil, errors.New(at + `: "` + s + `" is not a field path like "a.b.c"`)
		}
	}
	return p, nil
}
