// Package ipfilter allows or denies requests by client address: config key
// `ip_filter`. The address is the exchange's ClientIP, which the gateway
// takes from the connection, or from X-Forwarded-For only when the peer is
// one of the listener's trusted_proxies; a client cannot spoof it otherwise.
package ipfilter

import (
	"net/netip"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/identity"
)

// Name is the filter's config key. The folder drops the underscore, as Go
// package names do.
const Name = "ip_filter"

func init() {
	filter.Register(Name, func() filter.Config { return new(Config) })
}

// Config is the `ip_filter:` block of a route's filters. Deny wins: an
// address in Deny is refused even if Allow also holds it. With Allow
// given, only its addresses pass; with only Deny, everyone else passes.
type Config struct {
	Allow []config.CIDR `yaml:"allow"`
	Deny  []config.CIDR `yaml:"deny"`
}

// Validate requires at least one list.
func (c *Config) Validate() error {
	if len(c.Allow) == 0 && len(c.Deny) == 0 {
		return config.FieldErr("", `give allow, deny or both: lists of prefixes like ["10.0.0.0/8", "192.0.2.7"]`)
	}
	return nil
}

// Build copies the prefixes into flat slices.
func (c *Config) Build(bc *filter.BuildContext) (filter.Filter, error) {
	f := &Filter{denied: identity.FailureCounter(bc, Name, "denied")}
	for _, p := range c.Allow {
		f.allow = append(f.allow, p.Prefix)
	}
	for _, p := range c.Deny {
		f.deny = append(f.deny, p.Prefix)
	}
	return f, nil
}

// Filter is the compiled allow and deny lists. They are scanned linearly:
// lists are short in practice, and a prefix check costs a few nanoseconds.
type Filter struct {
	allow, deny []netip.Prefix
	denied      *filter.Counter
}
