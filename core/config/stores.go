package config

// Stores are shared state backends that filters (rate limits, quotas) use
// so that limits hold across gateway instances.
type Stores struct {
	Redis *RedisStore `yaml:"redis"`
}

// RedisStore is a Redis server shared by every gateway instance. Every
// filter that names it shares one client (one connection pool) per distinct
// block; a reload that leaves the block unchanged keeps the client.
type RedisStore struct {
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
	DialTimeout  Duration `yaml:"dial_timeout"`  // default 250ms
	ReadTimeout  Duration `yaml:"read_timeout"`  // default 100ms
	WriteTimeout Duration `yaml:"write_timeout"` // default 100ms
	PoolSize     int      `yaml:"pool_size"`     // connections, default 64
}
