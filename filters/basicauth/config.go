// Package basicauth authenticates requests with HTTP Basic credentials
// (RFC 7617) checked against the consumers' bcrypt password hashes.
package basicauth

import (
	"crypto/rand"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/identity"
)

func init() {
	filter.Register("basicauth", func() filter.Config { return new(Config) })
}

// Defaults of the verified-credentials cache.
const (
	DefaultCacheTTL  = time.Minute
	DefaultCacheSize = 10000
)

// Config is the `basicauth:` block of a route's filters. Users and their
// bcrypt hashes belong to consumers (consumers[].basic_auth).
type Config struct {
	// Realm names the protection space in WWW-Authenticate (default "wasmgate").
	Realm string `yaml:"realm"`
	// Consumers, if set, are the only consumers allowed on the route.
	Consumers []string `yaml:"consumers"`
	// Cache: bcrypt costs tens of milliseconds by design, so successful
	// checks are remembered for CacheTTL (default 1m; "0s" keeps the default,
	// use DisableCache to turn it off), keyed by a salted SHA-256 of the
	// credentials, at most CacheSize entries.
	CacheTTL     config.Duration `yaml:"cache_ttl"`
	CacheSize    int             `yaml:"cache_size"`    // the most entries the cache holds
	DisableCache bool            `yaml:"disable_cache"` // checks every request's password with bcrypt
	// KeepCredential forwards the Authorization header (default: removed).
	KeepCredential bool `yaml:"keep_credential"`
	// Anonymous, if set, is the declared consumer a request without Basic credentials
	// goes as (X-Consumer-Anonymous: true); a wrong password is still refused.
	Anonymous string `yaml:"anonymous"`
}

// Validate checks the realm and cache bounds.
func (c *Config) Validate() error {
	if strings.ContainsAny(c.Realm, "\r\n\"\\") {
		return config.FieldErr("realm", "the realm cannot contain quotes, backslashes or line breaks")
	}
	if c.CacheSize < 0 {
		return config.FieldErr("cache_size", "%d is negative; use a positive number (0 means %d)", c.CacheSize, DefaultCacheSize)
	}
	return nil
}

// Build indexes every consumer's users.
func (c *Config) Build(bc *filter.BuildContext) (filter.Filter, error) {
	a, err := identity.NewAuth(bc, identity.AuthConfig{Filter: "basicauth", Consumers: c.Consumers, Anonymous: c.Anonymous, Realm: c.Realm})
	if err != nil {
		return nil, err
	}
	f := &Filter{
		anonymous: a.Anonymous,
		users:     map[string]*user{},
		allowed:   a.Allowed,
		keep:      c.KeepCredential,
		challenge: identity.Challenge("Basic", a.Realm, "charset", "UTF-8"),
		failures:  newFailures(a),
		doc:       c.requirement(a.Realm),
	}
	for i := range bc.Config.Consumers {
		cc := &bc.Config.Consumers[i]
		for _, u := range UsersOf(cc) {
			f.users[u.Username] = &user{hash: []byte(u.Bcrypt), consumer: a.Consumers[cc.Name]}
			// Unknown users are checked against a hash of the same cost, so
			// timing does not tell which usernames exist.
			if f.dummy == nil {
				f.dummy = []byte(u.Bcrypt)
			}
		}
	}
	if f.dummy == nil {
		f.dummy, _ = bcrypt.GenerateFromPassword([]byte("no users are configured"), bcrypt.MinCost)
		bc.Logger.Warn("no consumer has basic_auth users, so every request on this route will be refused; add consumers[].basic_auth")
	}
	if !c.DisableCache {
		ttl, size := c.CacheTTL.D(), c.CacheSize
		if ttl <= 0 {
			ttl = DefaultCacheTTL
		}
		if size == 0 {
			size = DefaultCacheSize
		}
		f.cache = &cache{ttl: ttl, max: size, m: map[[32]byte]cached{}}
		if _, err := rand.Read(f.cache.salt[:]); err != nil {
			return nil, err
		}
	}
	return f, nil
}
