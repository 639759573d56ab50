// Package identity is what the auth filters (apikey, basicauth, jwt, mtls)
// share: the build prelude every one of them starts with (NewAuth: allowed
// and anonymous consumers, consumers by name, realm, failure counters), the
// identity headers sent to upstreams, 401/403 answers, and failure counts
// by reason.
//
// Identity headers: a client must never be able to claim an identity by
// sending the headers the gateway uses to announce one. So the first auth
// filter of a chain to succeed deletes every X-Consumer-* request header
// (and the headers its config names, such as forwarded claims) before it
// sets its own; a later auth filter on the same chain only overwrites.
package identity

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
)

// HeaderPrefix starts every identity header the gateway sets.
const HeaderPrefix = "X-Consumer-"

// NameHeader carries the authenticated consumer's name to the upstream.
const NameHeader = "X-Consumer-Name"

// Consumer is a consumer ready for the hot path: the exchange value and its
// name header, built once at load.
type Consumer struct {
	*filter.Consumer
	// Registered is false for an identity made up from a token's subject
	// (the jwt filter's unregistered consumers).
	Registered bool
	nameValue  []string // len == cap == 1, so an append by anyone copies
}

// NewConsumer prepares a consumer for the hot path.
func NewConsumer(name string, metadata map[string]string, registered bool) *Consumer {
	return &Consumer{
		Consumer:   &filter.Consumer{Name: name, Metadata: metadata},
		Registered: registered,
		nameValue:  []string{name}[:1:1],
	}
}

// index returns cfg's consumers by name.
func index(cfg *config.Config) map[string]*Consumer {
	out := make(map[string]*Consumer, len(cfg.Consumers))
	for _, c := range cfg.Consumers {
		out[c.Name] = NewConsumer(c.Name, c.Metadata, true)
	}
	return out
}

// Strip deletes client-supplied identity headers: every X-Consumer-* and
// the extra names (canonical), unless an earlier auth filter of this
// exchange already authenticated it (then the X-Consumer-* present are ours).
// It does not allocate.
func Strip(x *filter.Exchange, extra []string) {
	h := x.Request.Header
	if x.Consumer == nil {
		for name := range h {
			// Cheap tests first: this runs for every header of every
			// authenticated request. Names are canonical when they come
			// from the server, but a filter may have added any spelling.
			if len(name) >= len(HeaderPrefix) && name[0]|0x20 == 'x' && name[1] == '-' &&
				strings.EqualFold(name[2:len(HeaderPrefix)], HeaderPrefix[2:]) {
				delete(h, name)
			}
		}
	}
	for _, name := range extra {
		delete(h, name)
	}
}

// Set makes c the exchange's consumer and announces it to the upstream.
// Call Strip first.
func Set(x *filter.Exchange, c *Consumer) {
	x.Consumer = c.Consumer
	h := x.Request.Header
	h[NameHeader] = c.nameValue
	if _, anon := h[AnonymousHeader]; anon { // an earlier filter let it in as anonymous
		delete(h, AnonymousHeader)
	}
}

// AnonymousHeader tells the upstream that the request carried no
// credentials and goes as the route's anonymous consumer.
const AnonymousHeader = "X-Consumer-Anonymous"

var anonymousValue = []string{"true"}[:1:1]

// anonymous resolves an auth filter's `anonymous:` setting (Kong's): the
// declared consumer a request without credentials goes as; nil for "".
// When the route restricts consumers, the anonymous one must be among them.
func anonymous(cfg *config.Config, name string, allowed map[string]bool) (*Consumer, error) {
	if name == "" {
		return nil, nil
	}
	for _, c := range cfg.Consumers {
		if c.Name == name {
			if allowed != nil && !allowed[name] {
				return nil, config.FieldErr("anonymous", "consumer %q is not among this filter's consumers; add it there or choose another", name)
			}
			return NewConsumer(c.Name, c.Metadata, true), nil
		}
	}
	names := make([]string, 0, len(cfg.Consumers))
	for _, c := range cfg.Consumers {
		names = append(names, c.Name)
	}
	msg := "unknown consumer " + strconv.Quote(name) + "; the anonymous consumer must be declared under consumers: (with no credentials, and the metadata its rate limits use)"
	if near := config.Closest(name, names); near != "" {
		msg += "; did you mean " + strconv.Quote(near) + "?"
	}
	return nil, config.FieldErr("anonymous", "%s", msg)
}

// LetAnonymous lets a request that carries no credentials for this filter
// through as anon, announced with X-Consumer-Anonymous: true, unless an
// earlier auth filter of the chain identified it (it keeps that consumer:
// with two filters both anonymous-enabled, either credential suffices).
// extra are the headers the filter sets on success, stripped as then.
func LetAnonymous(x *filter.Exchange, anon *Consumer, extra []string) {
	Strip(x, extra)
	if x.Consumer != nil {
		return
	}
	Set(x, anon)
	x.Request.Header[AnonymousHeader] = anonymousValue
}

// CanonicalNames canonicalizes header names for Strip.
func CanonicalNames(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = http.CanonicalHeaderKey(n)
	}
	return out
}
