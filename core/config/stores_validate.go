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

func (v *Validator) stores() {
	r := v.c.Stores.Redis
	if r == nil {
		return
	}
	const p = "stores.redis"
	switch err := CheckHostPort(r.Address); {
	case r.Address == "":
		v.Errorf(p+".address", `an address is required: host:port, e.g. "127.0.0.1:6379"`)
	case err != nil:
		v.Errorf(p+".address", "%v", err)
	}
	v.NotNegative(p+".db", r.DB)
	v.NotNegative(p+".pool_size", r.PoolSize)
}
