package jwt

import (
	"net/http"

	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/identity"
)

// Build compiles the config, one concern per step: where tokens are read,
// what golang-jwt checks, where the keys come from (keysource.go), the
// claim rules (claims.go), what every auth filter shares (identity.Auth),
// the consumer mapping (consumers.go) and the verified-token cache
// (cache.go).
func (c *Config) Build(bc *filter.BuildContext) (filter.Filter, error) {
	f := &Filter{
		maxToken:     DefaultMaxTokenSize,
		forwardToken: c.ForwardToken == nil || *c.ForwardToken,
		requireCons:  c.RequireConsumer,
		scopes:       c.Scopes,
		algs:         c.algorithms(),
	}
	if c.MaxTokenSize > 0 {
		f.maxToken = int(c.MaxTokenSize)
	}
	f.header, f.bearer, f.cookie, f.query = c.From.places()
	f.parser = c.parser()
	f.doc = c.requirement(f.algs)

	keys, keysDigest, err := c.keySource(bc)
	if err != nil {
		return nil, err
	}
	f.keys = keys

	f.claims, f.forward, f.strip = c.claimRules()

	a, err := identity.NewAuth(bc, identity.AuthConfig{Filter: "jwt", Consumers: c.Consumers, Anonymous: c.Anonymous, Realm: c.Realm})
	if err != nil {
		return nil, err
	}
	f.allowed, f.anonymous, f.consumers, f.realm = a.Allowed, a.Anonymous, a.Consumers, a.Realm
	f.failures = newFailures(a)
	f.challenge = identity.Challenge("Bearer", f.realm)
	f.scopeChallenge = c.scopeChallenge(f.realm)
	f.mapped = newConsumerMap(bc.Config, f.consumers)

	if !c.DisableCache {
		if f.cache, err = c.tokenCache(bc, keysDigest); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// places says where tokens are read: by default the Authorization header
// with the Bearer scheme; a header named otherwise holds the bare token.
func (fr From) places() (header string, bearer bool, cookie, query string) {
	switch {
	case fr.Header == "" && fr.Cookie == "" && fr.Query == "":
		header, bearer = "Authorization", true
	case fr.Header != "":
		header = http.CanonicalHeaderKey(fr.Header)
		bearer = header == "Authorization"
	}
	return header, bearer, fr.Cookie, fr.Query
}

// algorithms are the signing algorithms accepted: as configured, else
// every asymmetric one for key sets and files, HS256 for a secret.
func (c *Config) algorithms() []string {
	switch {
	case len(c.Algorithms) > 0:
		return c.Algorithms
	case c.Secret != "":
		return []string{"HS256"}
	}
	return asymmetric
}

// parser makes the time and registered-claim checks of golang-jwt. The
// algorithm is checked by the filter's keyfunc instead (errAlgNotAllowed),
// before any key is chosen: golang-jwt's WithValidMethods tells its refusal
// from a bad signature only by the error's text.
func (c *Config) parser() *jwtlib.Parser {
	leeway := DefaultLeeway
	if c.Leeway != nil {
		leeway = c.Leeway.D()
	}
	opts := []jwtlib.ParserOption{
		jwtlib.WithLeeway(leeway),
		jwtlib.WithIssuedAt(),
	}
	if c.RequireExp == nil || *c.RequireExp {
		opts = append(opts, jwtlib.WithExpirationRequired())
	}
	if c.Issuer != "" {
		opts = append(opts, jwtlib.WithIssuer(c.Issuer))
	}
	if len(c.Audiences) > 0 {
		opts = append(opts, jwtlib.WithAudience(c.Audiences...))
	}
	return jwtlib.NewParser(opts...)
}
