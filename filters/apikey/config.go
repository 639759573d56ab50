// Package apikey authenticates requests by an API key sent in a header or a
// query parameter, and maps it to a consumer.
package apikey

import (
	"crypto/sha256"
	"net/http"
	"net/url"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/identity"
)

func init() {
	filter.Register("apikey", func() filter.Config { return new(Config) })
}

// DefaultHeader is where the key is read from when no header is configured.
const DefaultHeader = "X-API-Key"

// Config is the `apikey:` block of a route's filters. The keys themselves
// belong to consumers (consumers[].api_keys).
type Config struct {
	// Header carries the key (default X-API-Key).
	Header string `yaml:"header"`
	// Query, if set, is a query parameter that may carry the key instead.
	// Keys in URLs end up in logs and browser history; prefer the header.
	Query string `yaml:"query"`
	// Consumers, if set, are the only consumers allowed on the route; any
	// other valid key gets 403.
	Consumers []string `yaml:"consumers"`
	// KeepCredential forwards the key to the upstream (default: removed).
	KeepCredential bool `yaml:"keep_credential"`
	// Realm names the protection space in WWW-Authenticate (default "wasmgate").
	Realm string `yaml:"realm"`
	// Anonymous, if set, is the declared consumer a request without a key
	// goes as (X-Consumer-Anonymous: true); a wrong key is still refused.
	Anonymous string `yaml:"anonymous"`
}

// Validate checks the names the key is read from.
func (c *Config) Validate() error {
	if c.Header != "" && !config.IsToken(c.Header) {
		return config.FieldErr("header", "%q is not a valid header name", c.Header)
	}
	if c.Query != "" && url.QueryEscape(c.Query) != c.Query {
		return config.FieldErr("query", "%q is not a plain query parameter name; use letters, digits, '-', '_' and '.'", c.Query)
	}
	return nil
}

// Build indexes every consumer's key hash.
func (c *Config) Build(bc *filter.BuildContext) (filter.Filter, error) {
	header := c.Header
	if header == "" {
		header = DefaultHeader
	}
	a, err := identity.NewAuth(bc, identity.AuthConfig{Filter: "apikey", Consumers: c.Consumers, Anonymous: c.Anonymous, Realm: c.Realm})
	if err != nil {
		return nil, err
	}
	f := &Filter{
		anonymous: a.Anonymous,
		header:    http.CanonicalHeaderKey(header),
		query:     c.Query,
		keep:      c.KeepCredential,
		allowed:   a.Allowed,
		keys:      map[[sha256.Size]byte]*key{},
		challenge: identity.Challenge("ApiKey", a.Realm, "header", http.CanonicalHeaderKey(header)),
		failures:  newFailures(a),
		doc:       c.requirement(header),
	}
	for i := range bc.Config.Consumers {
		cc := &bc.Config.Consumers[i]
		for _, k := range KeysOf(cc) {
			f.keys[k.Hash] = &key{hash: k.Hash, consumer: a.Consumers[cc.Name]}
		}
	}
	if len(f.keys) == 0 {
		bc.Logger.Warn("no consumer has an API key, so every request on this route will be refused; add consumers[].api_keys")
	}
	return f, nil
}
