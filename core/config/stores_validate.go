package config

import "time"

const (
	defaultRedisKeyPrefix    = "wasmgate:"
	defaultRedisDialTimeout  = 250 * time.Millisecond
	defaultRedisReadTimeout  = 100 * time.Millisecond
	defaultRedisWriteTimeout = 100 * time.Millisecond
	defaultRedisPoolSize     = 64
)

// storeDefaults fills the stores' unset fields.
func storeDefaults(s *Stores) {
	r := s.Redis
	if r == nil {
		return
	}
	setString(&r.KeyPrefix, defaultRedisKeyPrefix)
	setDuration(&r.DialTimeout, defaultRedisDialTimeout)
	setDuration(&r.ReadTimeout, defaultRedisReadTimeout)
	setDuration(&r.WriteTimeout, defaultRedisWriteTimeout)
	if r.PoolSize == 0 {
		r.PoolSize = defaultRedisPoolSize
	}
}

func (v *validator) stores() {
	r := v.c.Stores.Redis
	if r == nil {
		return
	}
	const p = "stores.redis"
	switch err := checkHostPort(r.Address); {
	case r.Address == "":
		v.errf(p+".address", `an address is required: host:port, e.g. "127.0.0.1:6379"`)
	case err != nil:
		v.errf(p+".address", "%v", err)
	}
	v.notNegative(p+".db", r.DB)
	v.notNegative(p+".pool_size", r.PoolSize)
}
