package gateway

import (
	"crypto/sha256"
	"io"
	"strings"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/proxy"
)

// Filters built from filter.Shareable configs are built once per distinct
// block: the routes of a snapshot whose blocks say the same share the
// filter, and so does the next snapshot while the block stays as it was.
// A large config repeats a few blocks on thousands of routes; decoding,
// validating and building each copy was most of a reload's filter work.

// shareKey is what a shareable filter is built from: its kind, its block
// (config.NodeKey) and the route's path parameter names (templates
// resolve "{id}" to a parameter's position).
type shareKey struct {
	kind   string
	block  [sha256.Size]byte
	params string
}

// sharedFilter is a built shareable filter, and what the builder needs to
// know of its config without decoding it again.
type sharedFilter struct {
	f        filter.Filter
	singular bool   // its config is filter.Singular
	identity string // and this is its SingularIdentity
}

// shareKey returns spec's key, and false when spec cannot be shared: its
// kind is not Shareable, or its block holds an alias (config.NodeKey).
func (b *builder) shareKey(spec config.FilterSpec, params []string) (shareKey, bool) {
	can, known := b.shareableKinds[spec.Name]
	if !known {
		fc, _ := filter.Lookup(spec.Name)
		_, can = fc.(filter.Shareable)
		if b.shareableKinds == nil {
			b.shareableKinds = map[string]bool{}
		}
		b.shareableKinds[spec.Name] = can
	}
	if !can {
		return shareKey{}, false
	}
	block, ok := config.NodeKey(spec.Node)
	if !ok {
		return shareKey{}, false
	}
	return shareKey{kind: spec.Name, block: block, params: strings.Join(params, "\x00")}, true
}

// sharedFilter finds the filter built for key in this snapshot, or else in
// the previous one (then this snapshot keeps it too).
func (b *builder) sharedFilter(key shareKey) (sharedFilter, bool) {
	if sf, ok := b.snap.shared[key]; ok {
		return sf, true
	}
	if b.prev == nil {
		return sharedFilter{}, false
	}
	sf, ok := b.prev.shared[key]
	if ok {
		b.share(key, sf)
	}
	return sf, ok
}

// share records sf, built for key, for the routes after this one, and
// reports whether it did. A filter that has something to close is not
// shared, whatever its config says: a retired snapshot closes its
// filters, which would close the next one's.
func (b *builder) share(key shareKey, sf sharedFilter) bool {
	if _, closes := sf.f.(io.Closer); closes {
		return false
	}
	if b.snap.shared == nil {
		b.snap.shared = map[shareKey]sharedFilter{}
	}
	b.snap.shared[key] = sf
	return true
}

// appendTo writes k to a chain's key (builder.filters).
func (k shareKey) appendTo(sb *strings.Builder) {
	sb.WriteString(k.kind)
	sb.WriteByte(0)
	sb.Write(k.block[:])
	sb.WriteString(k.params)
	sb.WriteByte(0)
}

// chain compiles a route's filters. A chain of shared filters only (or of
// none) is shared too, by the routes of this snapshot with the same list:
// a chain holds nothing of its route.
func (b *builder) chain(filters []filter.Filter, key string, shared bool) *filter.Chain {
	if !shared {
		return filter.NewChain(filters)
	}
	if c, ok := b.chains[key]; ok {
		return c
	}
	c := filter.NewChain(filters)
	if b.chains == nil {
		b.chains = map[string]*filter.Chain{}
	}
	b.chains[key] = c
	return c
}

// proxy returns the proxy for o. Routes whose options are the same share
// one (a Proxy is its options); a route's own retry policy is its own.
// The attempt observer is the snapshot's, the same for every route.
func (b *builder) proxy(o proxy.Options) *proxy.Proxy {
	if o.Retry != nil {
		return proxy.New(o)
	}
	key := o
	key.Observer = nil // the same for all; its type need not be comparable
	if p, ok := b.proxies[key]; ok {
		return p
	}
	p := proxy.New(o)
	if b.proxies == nil {
		b.proxies = map[proxy.Options]*proxy.Proxy{}
	}
	b.proxies[key] = p
	return p
}
