// Package jwt authenticates requests by a JSON Web Token (RFC 7519) signed
// with a key from a JWKS URL, a local JWKS or PEM file, or an HMAC secret,
// and maps it to a consumer.
package jwt

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
)

func init() {
	filter.Register("jwt", func() filter.Config { return new(Config) })
}

// Defaults, documented on the fields.
const (
	DefaultLeeway       = 30 * time.Second
	DefaultJWKSRefresh  = 10 * time.Minute
	DefaultJWKSMinRetry = 30 * time.Second
	DefaultJWKSTimeout  = 5 * time.Second
	DefaultCacheTTL     = 5 * time.Minute
	DefaultCacheSize    = 10000
	DefaultMaxTokenSize = 8 << 10
	minSecretLen        = 32
)

var (
	asymmetric = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
	symmetric  = []string{"HS256", "HS384", "HS512"}
)

// Config is the `jwt:` block of a route's filters.
type Config struct {
	// Issuer the token's iss must equal. Required unless AllowAnyIssuer.
	Issuer         string `yaml:"issuer"`
	AllowAnyIssuer bool   `yaml:"allow_any_issuer"` // accepts any iss, instead of issuer
	// Audiences: the token's aud must hold one of them. Required unless
	// AllowAnyAudience.
	Audiences        []string `yaml:"audiences"`
	AllowAnyAudience bool     `yaml:"allow_any_audience"` // accepts any aud, instead of audiences

	// Exactly one key source.
	JWKSURL  string `yaml:"jwks_url"`               // fetched, cached and refreshed
	JWKSFile string `yaml:"jwks_file" path:"file"`  // a JWKS document, or PEM public keys / certificates
	Secret   string `yaml:"secret" redact:"secret"` // HMAC secret, at least 32 bytes; write it as ${ENV}

	// Algorithms accepted (default: every asymmetric one for key sets and
	// files, HS256 for a secret). "none" never; HS only with a secret.
	Algorithms []string `yaml:"algorithms"`

	// Leeway for exp, nbf and iat, against clock skew (default 30s).
	Leeway *config.Duration `yaml:"leeway"`
	// RequireExp refuses tokens without exp (default true).
	RequireExp *bool `yaml:"require_exp"`

	// Where the token is read from; more than one place holding a token is
	// refused (400). Default: the Authorization header, Bearer scheme.
	From From `yaml:"from"`
	// MaxTokenSize refuses bigger tokens, and Authorization headers, before
	// any parsing (default 8KiB).
	MaxTokenSize config.Size `yaml:"max_token_size"`

	// Claims that must be present with one of the given values: a string
	// claim equal to one, or an array claim containing one. 403 otherwise.
	Claims map[string]StringList `yaml:"claims"`
	// Scopes that must all be granted, by the space-separated "scope" claim
	// or the "scp" claim (string or array). 403 insufficient_scope otherwise.
	Scopes []string `yaml:"scopes"`

	// ForwardClaims sends claims to the upstream as headers: {claim: header}.
	// Client-sent headers of those names are always removed first.
	ForwardClaims map[string]string `yaml:"forward_claims"`
	// StripHeaders are more client headers to remove (X-Consumer-* always are).
	StripHeaders []string `yaml:"strip_headers"`
	// ForwardToken keeps the token on the request to the upstream (default true).
	ForwardToken *bool `yaml:"forward_token"`

	// Consumers, if set, are the only consumers allowed on the route.
	Consumers []string `yaml:"consumers"`
	// RequireConsumer refuses (403) tokens that map to no consumers[].jwt
	// entry. Otherwise such a token's consumer is named after its sub.
	RequireConsumer bool `yaml:"require_consumer"`
	// Anonymous, if set, is the declared consumer a request without a token
	// goes as (X-Consumer-Anonymous: true); a bad or expired token is still
	// refused.
	Anonymous string `yaml:"anonymous"`

	JWKSRefresh    config.Duration `yaml:"jwks_refresh"`     // default 10m
	JWKSMinRefresh config.Duration `yaml:"jwks_min_refresh"` // unknown-kid refreshes at most this often (default 30s)
	JWKSTimeout    config.Duration `yaml:"jwks_timeout"`     // default 5s

	CacheTTL     config.Duration `yaml:"cache_ttl"`     // default 5m
	CacheSize    int             `yaml:"cache_size"`    // default 10000
	DisableCache bool            `yaml:"disable_cache"` // verifies every token, even one seen before

	// Realm names the protection space in WWW-Authenticate (default "wasmgate").
	Realm string `yaml:"realm"`
}

// From says where tokens are read from.
type From struct {
	Header string `yaml:"header"` // "Authorization" (Bearer scheme) or another header holding the bare token
	Cookie string `yaml:"cookie"` // a cookie holding the bare token
	Query  string `yaml:"query"`  // a query parameter holding the bare token
}

// StringList is a string or a list of strings.
type StringList []string

// UnmarshalNode accepts "admin" as well as [admin, ops].
func (l *StringList) UnmarshalNode(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return nil
		}
		*l = StringList{n.Value}
		return nil
	case yaml.SequenceNode:
		out := make(StringList, 0, len(n.Content))
		for i, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return config.FieldErr(fmt.Sprintf("[%d]", i), "expected a string")
			}
			out = append(out, c.Value)
		}
		*l = out
		return nil
	}
	return fmt.Errorf("expected a string or a list of strings")
}

// Validate checks the config without touching the network or files.
func (c *Config) Validate() error {
	sources := 0
	for _, s := range []string{c.JWKSURL, c.JWKSFile, c.Secret} {
		if s != "" {
			sources++
		}
	}
	if sources != 1 {
		return config.FieldErr("", "give exactly one key source: jwks_url (the issuer's JWKS endpoint), jwks_file (a JWKS or PEM file) or secret (an HMAC secret, from ${ENV})")
	}
	if c.JWKSURL != "" {
		u, err := url.Parse(c.JWKSURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return config.FieldErr("jwks_url", "%q is not an http(s) URL", c.JWKSURL)
		}
	}
	if c.Secret != "" && len(c.Secret) < minSecretLen {
		return config.FieldErr("secret", "the secret is %d bytes; HMAC secrets need at least %d (RFC 7518 §3.2), e.g. openssl rand -hex 32", len(c.Secret), minSecretLen)
	}
	for i, a := range c.Algorithms {
		field := fmt.Sprintf("algorithms[%d]", i)
		switch {
		case strings.EqualFold(a, "none"):
			return config.FieldErr(field, `"none" means an unsigned token and is never accepted`)
		case slices.Contains(symmetric, a) && c.Secret == "":
			return config.FieldErr(field, "%s needs a secret; a public key must never be used as an HMAC secret (the classic key-confusion attack)", a)
		case slices.Contains(asymmetric, a) && c.Secret != "":
			return config.FieldErr(field, "%s is a public-key algorithm; with a secret only %s apply", a, strings.Join(symmetric, ", "))
		case !slices.Contains(asymmetric, a) && !slices.Contains(symmetric, a):
			return config.FieldErr(field, "%q is not an algorithm; valid: %s, %s", a, strings.Join(asymmetric, ", "), strings.Join(symmetric, ", "))
		}
	}
	if c.Issuer == "" && !c.AllowAnyIssuer {
		return config.FieldErr("issuer", `required: the iss tokens must carry, e.g. "https://auth.example.com/" (or allow_any_issuer: true)`)
	}
	if len(c.Audiences) == 0 && !c.AllowAnyAudience {
		return config.FieldErr("audiences", "required: the aud values accepted, e.g. [api] (or allow_any_audience: true)")
	}
	for _, h := range []struct{ field, name string }{{"from.header", c.From.Header}} {
		if h.name != "" && !config.IsToken(h.name) {
			return config.FieldErr(h.field, "%q is not a valid header name", h.name)
		}
	}
	for claim, h := range c.ForwardClaims {
		if !config.IsToken(h) {
			return config.FieldErr(`forward_claims["`+claim+`"]`, "%q is not a valid header name", h)
		}
	}
	for i, h := range c.StripHeaders {
		if !config.IsToken(h) {
			return config.FieldErr(fmt.Sprintf("strip_headers[%d]", i), "%q is not a valid header name", h)
		}
	}
	for i, s := range c.Scopes {
		if s == "" || strings.ContainsAny(s, " \"\\") {
			return config.FieldErr(fmt.Sprintf("scopes[%d]", i), "%q is not a scope (no spaces, quotes or backslashes)", s)
		}
	}
	if c.CacheSize < 0 {
		return config.FieldErr("cache_size", "%d is negative", c.CacheSize)
	}
	return nil
}

func orDefault(d config.Duration, def time.Duration) time.Duration {
	if d > 0 {
		return d.D()
	}
	return def
}

// SingularIdentity: two jwt filters would demand two tokens in the same
// header, and the second overwrites the claims of the first.
func (c *Config) SingularIdentity() string { return "" }

var _ filter.Singular = (*Config)(nil)

// JSONSchema: a string or a list of strings.
func (*StringList) JSONSchema() map[string]any { return config.StringOrList() }
