package jwt

import (
	"io"
	"net/http"
	"os"
	"slices"
	"strings"

	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/identity"
)

// Build compiles the config: the parser with its checks, the key source
// (kept across reloads for a URL), the consumer mappings and the cache.
func (c *Config) Build(bc *filter.BuildContext) (filter.Filter, error) {
	f := &Filter{
		maxToken:     DefaultMaxTokenSize,
		forwardToken: c.ForwardToken == nil || *c.ForwardToken,
		requireCons:  c.RequireConsumer,
		scopes:       c.Scopes,
		failures:     newFailures(bc.Route),
		consumers:    identity.Index(bc.Config),
		byIssSub:     map[[2]string]*identity.Consumer{},
		bySub:        map[string]*identity.Consumer{},
		byIss:        map[string]*identity.Consumer{},
	}
	if c.MaxTokenSize > 0 {
		f.maxToken = int(c.MaxTokenSize)
	}
	realm := c.Realm
	if realm == "" {
		realm = "wasmgate"
	}
	f.realm = realm
	f.challenge = identity.Challenge("Bearer", realm)

	// Where tokens come from.
	switch {
	case c.From.Header == "" && c.From.Cookie == "" && c.From.Query == "":
		f.header, f.bearer = "Authorization", true
	case c.From.Header != "":
		f.header = http.CanonicalHeaderKey(c.From.Header)
		f.bearer = f.header == "Authorization"
	}
	f.cookie, f.query = c.From.Cookie, c.From.Query

	// Parser: the checks golang-jwt makes for us.
	algs := c.Algorithms
	if len(algs) == 0 {
		algs = asymmetric
		if c.Secret != "" {
			algs = []string{"HS256"}
		}
	}
	leeway := DefaultLeeway
	if c.Leeway != nil {
		leeway = c.Leeway.D()
	}
	opts := []jwtlib.ParserOption{
		jwtlib.WithValidMethods(algs),
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
	f.parser = jwtlib.NewParser(opts...)

	// Keys.
	var keyBytes []byte
	switch {
	case c.Secret != "":
		keyBytes = []byte(c.Secret)
		f.keys = staticKeys{newKeySet([]*key{{pub: []byte(c.Secret)}}, digest(keyBytes), 1)}
	case c.JWKSFile != "":
		set, skipped, err := loadFile(c.JWKSFile)
		if err != nil {
			return nil, config.FieldErr("jwks_file", "%v", err)
		}
		if len(skipped) > 0 {
			bc.Logger.Warn("keys skipped", "file", c.JWKSFile, "keys", strings.Join(skipped, "; "))
		}
		keyBytes, _ = os.ReadFile(c.JWKSFile)
		f.keys = staticKeys{set}
	default:
		refresh := orDefault(c.JWKSRefresh, DefaultJWKSRefresh)
		minRefresh := min(orDefault(c.JWKSMinRefresh, DefaultJWKSMinRetry), refresh)
		timeout := orDefault(c.JWKSTimeout, DefaultJWKSTimeout)
		keep := jwksKey{url: c.JWKSURL, refresh: refresh, minRefresh: minRefresh, timeout: timeout}
		src, err := bc.Keep(keep, func() (io.Closer, error) {
			return newRemoteKeys(c.JWKSURL, refresh, minRefresh, timeout, bc.Logger), nil
		})
		if err != nil {
			return nil, config.FieldErr("jwks_url", "%v", err)
		}
		f.keys = src.(*remoteKeys)
	}

	// Claims and scopes.
	names := make([]string, 0, len(c.Claims))
	for n := range c.Claims {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		f.claims = append(f.claims, claimRule{name: n, values: c.Claims[n]})
	}
	if len(c.Scopes) > 0 {
		f.scopeChallenge = identity.Challenge("Bearer", realm, "error", identity.InsufficientScope, "scope", strings.Join(c.Scopes, " "))
	}
	names = names[:0]
	for n := range c.ForwardClaims {
		names = append(names, n)
	}
	slices.Sort(names)
	var strip []string
	for _, n := range names {
		h := http.CanonicalHeaderKey(c.ForwardClaims[n])
		f.forward = append(f.forward, forwardRule{claim: n, header: h})
		strip = append(strip, h)
	}
	f.strip = append(strip, identity.CanonicalNames(c.StripHeaders)...)

	// Consumers.
	allowed, err := identity.Allowed(bc.Config, "consumers", c.Consumers)
	if err != nil {
		return nil, err
	}
	f.allowed = allowed
	if f.anonymous, err = identity.Anonymous(bc.Config, c.Anonymous, allowed); err != nil {
		return nil, err
	}
	for _, cc := range bc.Config.Consumers {
		for _, id := range cc.JWT {
			switch {
			case id.Issuer != "" && id.Subject != "":
				f.byIssSub[[2]string{id.Issuer, id.Subject}] = f.consumers[cc.Name]
			case id.Subject != "":
				f.bySub[id.Subject] = f.consumers[cc.Name]
			default:
				f.byIss[id.Issuer] = f.consumers[cc.Name]
			}
		}
	}

	// The verified-token cache, shared across reloads that change nothing
	// it depends on.
	if !c.DisableCache {
		ttl := orDefault(c.CacheTTL, DefaultCacheTTL)
		size := c.CacheSize
		if size == 0 {
			size = DefaultCacheSize
		}
		cache, err := bc.Keep(tokensKey{c.fingerprint(bc.Config, keyBytes)}, func() (io.Closer, error) {
			return newTokenCache(ttl, size), nil
		})
		if err != nil {
			return nil, err
		}
		f.cache = cache.(*tokenCache)
	}
	return f, nil
}
