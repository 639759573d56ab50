package config

// Stores are shared state backends that filters (rate limits, quotas) use
// so that limits hold across gateway instances.
type Stores struct {
	Redis *RedisStore `yaml:"redis"`
}

// RedisStore is a Redis server shared by every gateway instance.
type RedisStore struct {
	Address string `yaml:"address"` // host:port
}
