// Package limits is what the traffic-shaping filters (rate_limit, quota,
// concurrency, priority, body_limit) share: how a request is mapped to a
// limit key, the IETF RateLimit header fields, the JSON rejection, and the
// Redis store with its failure policy.
package limits

import (
	"fmt"
	"hash/maphash"
	"net/http"
	"strings"

	"github.com/wasmgate/wasmgate/core/filter"
	"go.yaml.in/yaml/v3"
)

// Key says which requests share a limit. It is written as one part or a list
// of parts, all of which together form the key:
//
//	key: client_ip
//	key: [consumer, "header:X-Tenant"]
//
// Parts: client_ip, consumer, route, header:NAME, param:NAME (a route path
// parameter), claim:NAME (a top-level claim of the verified token, from
// filter.ClaimsKey; place the limit after the jwt filter). No key means one limit for everyone
// on the route.
type Key struct {
	parts []keyPart
	text  []string // as written, for errors and docs
}

type partKind uint8

const (
	partClientIP partKind = iota + 1
	partConsumer
	partRoute
	partHeader
	partParam
	partClaim
)

type keyPart struct {
	kind partKind
	name string // header (canonical), param or claim name
}

const keyHelp = "valid parts: client_ip, consumer, route, header:NAME, param:NAME, claim:NAME; write one, or a list of them"

// UnmarshalNode reads one part or a list of parts.
func (k *Key) UnmarshalNode(n *yaml.Node) error {
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null":
		return nil
	case n.Kind == yaml.ScalarNode:
		k.text = []string{n.Value}
	case n.Kind == yaml.SequenceNode:
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return fmt.Errorf("a key part is a string; %s", keyHelp)
			}
			k.text = append(k.text, c.Value)
		}
	default:
		return fmt.Errorf("expected a key part or a list of them; %s", keyHelp)
	}
	return k.parse()
}

// ParseKey builds a key from its parts as written (for tests and code).
func ParseKey(parts ...string) (Key, error) {
	k := Key{text: parts}
	return k, k.parse()
}

func (k *Key) parse() error {
	k.parts = k.parts[:0]
	for _, t := range k.text {
		kind, arg, _ := strings.Cut(t, ":")
		p := keyPart{}
		switch kind {
		case "client_ip":
			p.kind = partClientIP
		case "consumer":
			p.kind = partConsumer
		case "route":
			p.kind = partRoute
		case "header":
			p.kind, p.name = partHeader, http.CanonicalHeaderKey(arg)
		case "param":
			p.kind, p.name = partParam, arg
		case "claim":
			p.kind, p.name = partClaim, arg
		default:
			return fmt.Errorf("unknown key part %q; %s", t, keyHelp)
		}
		if (p.kind >= partHeader) != (arg != "") {
			return fmt.Errorf("key part %q: %s", t, keyHelp)
		}
		k.parts = append(k.parts, p)
	}
	return nil
}

// Check reports key parts that cannot work on a route with these params.
func (k Key) Check(params []string) error {
	for _, p := range k.parts {
		if p.kind == partParam && !contains(params, p.name) {
			return fmt.Errorf("key part param:%s: the route has no path parameter %q (it has: %s)", p.name, p.name, listOrNone(params))
		}
	}
	return nil
}

// Global reports whether the key is empty: one limit for all requests.
func (k Key) Global() bool { return len(k.parts) == 0 }

// String is the key as written.
func (k Key) String() string {
	if len(k.parts) == 0 {
		return "global"
	}
	return strings.Join(k.text, "+")
}

// Ident tells keys apart as written, for keys of BuildContext.Keep: unlike
// String, no two different lists of parts share it.
func (k Key) Ident() string { return fmt.Sprintf("%q", k.text) }

// seed is fixed for the process: hashes only live in memory.
var seed = maphash.MakeSeed()

// Hash maps the exchange to its key without allocating, for in-process
// limiters. A part the request lacks (no consumer, an absent header or
// claim) falls back to the client IP, so anonymous callers are limited one
// by one rather than all sharing one bucket.
func (k Key) Hash(x *filter.Exchange) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	for _, p := range k.parts {
		v, ok := p.value(x)
		if !ok {
			writeIP(&h, x)
			h.WriteByte(0xfe)
			continue
		}
		h.WriteString(v)
		h.WriteByte(0xff)
	}
	return h.Sum64()
}

// String renders the exchange's key for a shared store: the parts joined by
// "|", each missing part replaced by "ip=" and the client IP.
func (k Key) Render(x *filter.Exchange) string {
	var b strings.Builder
	for i, p := range k.parts {
		if i > 0 {
			b.WriteByte('|')
		}
		v, ok := p.value(x)
		if !ok {
			b.WriteString("ip=")
			if x.ClientIP.IsValid() {
				v = x.ClientIP.String()
			}
		}
		b.WriteString(v)
	}
	return b.String()
}

func writeIP(h *maphash.Hash, x *filter.Exchange) {
	if x.ClientIP.IsValid() {
		a := x.ClientIP.As16()
		h.Write(a[:])
	}
}

// value is the part's text for x; ok is false when the request lacks it.
// client_ip is hashed from its bytes in Hash, so here it is only rendered.
func (p keyPart) value(x *filter.Exchange) (string, bool) {
	switch p.kind {
	case partClientIP:
		return "", false // Hash and Render take the IP path
	case partConsumer:
		if x.Consumer != nil {
			return x.Consumer.Name, true
		}
	case partRoute:
		return x.Route, true
	case partHeader:
		if vs := x.Request.Header[p.name]; len(vs) > 0 && vs[0] != "" {
			return vs[0], true
		}
	case partParam:
		return x.Params.Get(p.name)
	case partClaim:
		v, ok := filter.Claim(x, p.name)
		return v, ok && v != ""
	}
	return "", false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func listOrNone(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ", ")
}

// JSONSchema: a key part, or a list of them.
func (*Key) JSONSchema() map[string]any {
	part := map[string]any{"type": "string", "pattern": `^(client_ip|consumer|route|(header|param|claim):.+|\$\{.*\})$`}
	return map[string]any{"anyOf": []any{part, map[string]any{"type": "array", "items": part}}}
}
