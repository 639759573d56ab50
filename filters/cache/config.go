// Package cache is an HTTP response cache with the semantics RFC 9111
// gives a shared cache: it stores what upstreams allow, answers from its
// store while entries are fresh, revalidates stale ones with their
// validators, coalesces concurrent misses, and says what it did in
// Cache-Status (RFC 9211). Entries live in process (bounded by bytes) or
// in Redis, shared by every gateway instance.
package cache

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/stores"
)

func init() {
	filter.Register("cache", func() filter.Config { return new(Config) })
}

// Config is the `cache:` block of a route's filters.
type Config struct {
	// Store is memory (default: this instance only) or redis (shared by
	// every instance, from stores.redis).
	Store string `yaml:"store"`
	// MaxSize bounds the memory store's bytes (default 64MiB).
	MaxSize config.Size `yaml:"max_size"`
	// MaxObjectSize is the largest response body stored (default 1MiB);
	// a larger one streams through unstored.
	MaxObjectSize config.Size `yaml:"max_object_size"`
	// DefaultTTL is the freshness given to a response whose upstream says
	// nothing about it (no max-age, s-maxage or Expires) and whose status
	// is heuristically cacheable (200, 301, 404, ...). 0 (default): such
	// responses are fresh for no time, stored only to be revalidated.
	DefaultTTL config.Duration `yaml:"default_ttl"`
	// MaxTTL bounds how long any entry is kept, whatever the upstream
	// says (default 24h).
	MaxTTL config.Duration `yaml:"max_ttl"`
	// KeepStale is how long an entry with a validator (ETag or
	// Last-Modified) is kept after it goes stale, to be revalidated with a
	// 304 instead of fetched whole (default 10m).
	KeepStale config.Duration `yaml:"keep_stale"`
	// Query is what of the query string the key holds: all (default, as
	// sent), ignore (none of it), or sort (the parameters sorted, so ?a&b
	// and ?b&a share an entry). QueryInclude keeps only the parameters
	// named; QueryExclude drops those named (utm_source, ...).
	Query        string   `yaml:"query"`
	QueryInclude []string `yaml:"query_include"` // the only query parameters the key holds
	QueryExclude []string `yaml:"query_exclude"` // query parameters the key leaves out
	// KeyByConsumer keys entries by the authenticated consumer too: each
	// consumer has entries of its own, so responses to requests with
	// Authorization or Cookie are stored without being marked public.
	// Requests with no consumer are not cached. The route needs an auth
	// filter before this one.
	KeyByConsumer bool `yaml:"key_by_consumer"`
	// StoreSetCookie stores responses that set cookies, without their
	// Set-Cookie fields (the client that caused the response still gets
	// them; later clients never get someone else's cookie). Off by default:
	// such responses are not stored.
	StoreSetCookie bool `yaml:"store_set_cookie"`
	// XCache adds X-Cache: HIT, MISS, STALE, REVALIDATED or BYPASS beside
	// Cache-Status, for tools that read the older field.
	XCache bool `yaml:"x_cache"`
	// Coalesce bounds the waiting of concurrent misses for one key.
	Coalesce Coalesce `yaml:"coalesce"`
}

// Coalesce: while one request for a key is at the upstream, up to
// MaxWaiters more wait for its response (at most Timeout), then are
// answered from the store. MaxWaiters -1 turns coalescing off.
type Coalesce struct {
	Timeout    config.Duration `yaml:"timeout"`     // default 5s
	MaxWaiters int             `yaml:"max_waiters"` // default 1024
}

const (
	defaultMaxSize       = 64 << 20
	defaultMaxObjectSize = 1 << 20
	defaultMaxTTL        = 24 * time.Hour
	defaultKeepStale     = 10 * time.Minute
	defaultWaitTimeout   = 5 * time.Second
	defaultMaxWaiters    = 1024
)

// Validate checks the block as written and fills in defaults.
func (c *Config) Validate() error {
	var errs []error
	switch c.Store {
	case "":
		c.Store = "memory"
	case "memory", "redis":
	default:
		errs = append(errs, config.FieldErr("store", "%q is not valid; valid values: memory, redis", c.Store))
	}
	switch c.Query {
	case "":
		c.Query = "all"
	case "all", "ignore", "sort":
	default:
		errs = append(errs, config.FieldErr("query", "%q is not valid; valid values: all, ignore, sort", c.Query))
	}
	if c.Query == "ignore" && (len(c.QueryInclude) > 0 || len(c.QueryExclude) > 0) {
		errs = append(errs, config.FieldErr("query", "query: ignore leaves no parameter to include or exclude; drop query_include and query_exclude, or use query: all or sort"))
	}
	if len(c.QueryInclude) > 0 && len(c.QueryExclude) > 0 {
		errs = append(errs, config.FieldErr("query_exclude", "set query_include or query_exclude, not both: query_include already leaves out every parameter it does not name"))
	}
	for i, n := range c.QueryInclude {
		if n == "" {
			errs = append(errs, config.FieldErr(fmt.Sprintf("query_include[%d]", i), "a parameter name cannot be empty"))
		}
	}
	for i, n := range c.QueryExclude {
		if n == "" {
			errs = append(errs, config.FieldErr(fmt.Sprintf("query_exclude[%d]", i), "a parameter name cannot be empty"))
		}
	}
	if c.MaxSize == 0 {
		c.MaxSize = defaultMaxSize
	}
	if c.MaxObjectSize == 0 {
		c.MaxObjectSize = defaultMaxObjectSize
	}
	if c.Store == "memory" && c.MaxObjectSize > c.MaxSize/memoryShards {
		errs = append(errs, config.FieldErr("max_object_size", "%d bytes is more than a memory store of max_size %d can hold: the store is split in %d shards, so an object may take at most max_size/%d (%d bytes); raise max_size or lower max_object_size",
			int64(c.MaxObjectSize), int64(c.MaxSize), memoryShards, memoryShards, int64(c.MaxSize)/memoryShards))
	}
	if c.Store == "redis" && c.MaxObjectSize > 512<<20 {
		errs = append(errs, config.FieldErr("max_object_size", "%d bytes is more than a Redis string holds (512MiB)", int64(c.MaxObjectSize)))
	}
	if c.MaxTTL == 0 {
		c.MaxTTL = config.Duration(defaultMaxTTL)
	}
	if c.KeepStale == 0 {
		c.KeepStale = config.Duration(defaultKeepStale)
	}
	if c.DefaultTTL > c.MaxTTL {
		errs = append(errs, config.FieldErr("default_ttl", "%s is longer than max_ttl (%s), which bounds every entry", c.DefaultTTL, c.MaxTTL))
	}
	if c.Coalesce.Timeout == 0 {
		c.Coalesce.Timeout = config.Duration(defaultWaitTimeout)
	}
	switch {
	case c.Coalesce.MaxWaiters == 0:
		c.Coalesce.MaxWaiters = defaultMaxWaiters
	case c.Coalesce.MaxWaiters < -1:
		errs = append(errs, config.FieldErr("coalesce.max_waiters", "%d is not valid: a positive number, or -1 to turn coalescing off (0 means %d)", c.Coalesce.MaxWaiters, defaultMaxWaiters))
	}
	return errors.Join(errs...)
}

// SingularIdentity: two caches on one route would store every response
// twice and answer from the first alone.
func (c *Config) SingularIdentity() string { return "" }

var (
	_ filter.Validator = (*Config)(nil)
	_ filter.Singular  = (*Config)(nil)
)

// clock is the cache's time; tests replace it to move time without sleeping.
var clock = time.Now

// Build makes the route's cache, finding (or keeping, across reloads that
// leave its store's settings as they were) its store and entries.
func (c *Config) Build(bc *filter.BuildContext) (filter.Filter, error) {
	logger := bc.Logger
	if logger == nil {
		logger = slog.Default()
	}
	f := &Filter{
		route: bc.Route,
		keys: keyer{query: c.Query, include: nilIfEmpty(c.QueryInclude), exclude: nilIfEmpty(c.QueryExclude),
			byConsumer: c.KeyByConsumer},
		rules:     storeRules{defaultTTL: c.DefaultTTL.D(), storeSetCookie: c.StoreSetCookie, byConsumer: c.KeyByConsumer},
		maxObject: int64(c.MaxObjectSize),
		maxTTL:    c.MaxTTL.D(),
		keepStale: c.KeepStale.D(),
		xcache:    c.XCache,
		now:       func() time.Time { return clock() },
		m:         newMetrics(bc),
		logger:    logger,
	}
	if c.Coalesce.MaxWaiters > 0 {
		f.flights = newFlights(c.Coalesce.MaxWaiters, c.Coalesce.Timeout.D())
	}
	var kept io.Closer
	var err error
	switch c.Store {
	case "redis":
		rc := stores.RedisOf(bc.Config)
		if rc == nil {
			return nil, config.FieldErr("store", `store: redis needs a Redis server in the config: stores: {redis: {address: "127.0.0.1:6379"}}`)
		}
		id, _ := json.Marshal(rc)
		kept, err = bc.Keep(redisKey{route: bc.Route, config: string(id)}, func() (io.Closer, error) {
			client, err := rc.NewClient(logger)
			if err != nil {
				return nil, err
			}
			return newLive(bc.Route, newRedisStore(rc, client, bc.Route, logger)), nil
		})
	default:
		evictions := bc.Counter(evictionsMetric, filter.Label{Key: "http.route", Value: bc.Route})
		kept, err = bc.Keep(memoryKey{route: bc.Route, maxSize: int64(c.MaxSize)}, func() (io.Closer, error) {
			return newLive(bc.Route, newMemory(int64(c.MaxSize), func() time.Time { return clock() }, evictions)), nil
		})
	}
	if err != nil {
		return nil, err
	}
	f.store = kept.(*liveStore)
	f.bg = newBackground(bc, f)
	return f, nil
}

// memoryKey and redisKey are what a route's store depends on: a reload that
// changes none of it keeps the entries.
type memoryKey struct {
	route   string
	maxSize int64
}

type redisKey struct{ route, config string }

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
