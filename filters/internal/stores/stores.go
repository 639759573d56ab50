// Package stores owns the config's `stores:` section: the shared state
// backends that filters (rate limits, quotas, Wasm shared data) use so that
// limits and data hold across gateway instances. Today that is one Redis
// server; this package also makes its clients (redis.go).
package stores

import (
	"time"

	"github.com/wasmgate/wasmgate/core/config"
)

func init() {
	config.RegisterSection("stores", defaults, check)
}

// Config is the `stores:` section.
type Config struct {
	Redis *Redis `yaml:"redis"`
}

// Redis is a Redis server shared by every gateway instance. Every filter
// that names it shares one client (one connection pool) per distinct
// block; a reload that leaves the block unchanged keeps the client.
type Redis struct {
	Address  string `yaml:"address"`  // host:port, required
	Username string `yaml:"username"` // Redis 6 ACL user; "" for the default user
	// Password should come from the environment: password: ${REDIS_PASSWORD}.
	Password string `yaml:"password" redact:"secret"`
	DB       int    `yaml:"db"` // logical database, default 0
	// KeyPrefix starts every key the gateway writes, so several gateways
	// (or tests) can share one Redis (default "wasmgate:").
	KeyPrefix string `yaml:"key_prefix"`
	// Timeouts bound each decision: a limiter that waits on a slow Redis
	// adds that wait to every request, so they are short by default.
	DialTimeout  config.Duration `yaml:"dial_timeout"`  // default 250ms
	ReadTimeout  config.Duration `yaml:"read_timeout"`  // default 100ms
	WriteTimeout config.Duration `yaml:"write_timeout"` // default 100ms
	PoolSize     int             `yaml:"pool_size"`     // connections, default 64
}

// RedisOf returns cfg's stores.redis block, nil when it has none.
func RedisOf(cfg *config.Config) *Redis {
	if s := config.Section[Config](cfg, "stores"); s != nil {
		return s.Redis
	}
	return nil
}

const (
	defaultRedisKeyPrefix    = "wasmgate:"
	defaultRedisDialTimeout  = 250 * time.Millisecond
	defaultRedisReadTimeout  = 100 * time.Millisecond
	defaultRedisWriteTimeout = 100 * time.Millisecond
	defaultRedisPoolSize     = 64
)

func defaults(s *Config) {
	r := s.Redis
	if r == nil {
		return
	}
	if r.KeyPrefix == "" {
		r.KeyPrefix = defaultRedisKeyPrefix
	}
	setDuration(&r.DialTimeout, defaultRedisDialTimeout)
	setDuration(&r.ReadTimeout, defaultRedisReadTimeout)
	setDuration(&r.WriteTimeout, defaultRedisWriteTimeout)
	if r.PoolSize == 0 {
		r.PoolSize = defaultRedisPoolSize
	}
}

func setDuration(p *config.Duration, d time.Duration) {
	if *p == 0 {
		*p = config.Duration(d)
	}
}

func check(v *config.Validator, s *Config) {
	r := s.Redis
	if r == nil {
		return
	}
	const p = "stores.redis"
	switch err := config.CheckHostPort(r.Address); {
	case r.Address == "":
		v.Errorf(p+".address", `an address is required: host:port, e.g. "127.0.0.1:6379"`)
	case err != nil:
		v.Errorf(p+".address", "%v", err)
	}
	v.NotNegative(p+".db", r.DB)
	v.NotNegative(p+".pool_size", r.PoolSize)
}
