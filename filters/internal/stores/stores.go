// Package stores owns the config's `stores:` section: the shared state
// backends that filters (rate limits, quotas, Wasm shared data, the
// response cache) use so that limits and data hold across gateway
// instances. Today that is one Redis deployment (a standalone server, a
// Redis Cluster, or a master watched by Sentinels); this package also
// makes its clients (redis.go), the one place every Redis user gets one.
package stores

import (
	"strings"
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

// Redis is a Redis deployment shared by every gateway instance. Every
// filter that names it shares one client (one connection pool) per
// distinct block; a reload that leaves the block unchanged keeps the client.
type Redis struct {
	// Mode is standalone (default: one server at address), cluster (a Redis
	// Cluster; addresses are seed nodes, the rest is discovered) or
	// sentinel (addresses are Sentinels; master_name names the master they
	// watch, and failovers are followed without a restart).
	Mode string `yaml:"mode"`
	// Address is the server (standalone), host:port.
	Address string `yaml:"address"`
	// Addresses are the cluster's seed nodes or the Sentinels, host:port each.
	Addresses []string `yaml:"addresses"`
	// MasterName is the master's name in the Sentinels' config (sentinel mode).
	MasterName string `yaml:"master_name"`
	Username   string `yaml:"username"` // Redis 6 ACL user; "" for the default user
	// Password should come from the environment: password: ${REDIS_PASSWORD}.
	Password string `yaml:"password" redact:"secret"`
	// SentinelUsername is the ACL user for the Sentinels (sentinel mode),
	// when they require one.
	SentinelUsername string `yaml:"sentinel_username"`
	// SentinelPassword authenticates to the Sentinels; from the environment:
	// sentinel_password: ${SENTINEL_PASSWORD}.
	SentinelPassword string `yaml:"sentinel_password" redact:"secret"`
	DB               int    `yaml:"db"` // logical database, default 0 (standalone and sentinel; a cluster has only 0)
	// TLS to Redis (and to the Sentinels); absent means plain TCP.
	TLS *RedisTLS `yaml:"tls"`
	// ReadFromReplicas sends the reads that may be slightly stale (Wasm
	// shared data gets, cache lookups) to replicas (cluster mode only);
	// limit decisions are scripts and always run on the master.
	ReadFromReplicas bool `yaml:"read_from_replicas"`
	// KeyPrefix starts every key the gateway writes, so several gateways
	// (or tests) can share one Redis (default "wasmgate:"). It may not
	// contain { or }: keys carry their own hash tag (docs/scale-out.md).
	KeyPrefix string `yaml:"key_prefix"`
	// Timeouts bound each decision: a limiter that waits on a slow Redis
	// adds that wait to every request, so they are short by default.
	DialTimeout  config.Duration `yaml:"dial_timeout"`   // default 250ms
	ReadTimeout  config.Duration `yaml:"read_timeout"`   // default 100ms
	WriteTimeout config.Duration `yaml:"write_timeout"`  // default 100ms
	PoolSize     int             `yaml:"pool_size"`      // connections per server, default 64
	MinIdleConns int             `yaml:"min_idle_conns"` // kept open per server, default 0
	// PoolTimeout bounds the wait for a free connection when all pool_size
	// are busy (default: read_timeout + write_timeout).
	PoolTimeout config.Duration `yaml:"pool_timeout"`
}

// RedisTLS is how the gateway speaks TLS to Redis.
type RedisTLS struct {
	CA   string `yaml:"ca" path:"file"`   // PEM bundle; default the system roots
	Cert string `yaml:"cert" path:"file"` // client certificate, when Redis asks for one (tls-auth-clients)
	Key  string `yaml:"key" path:"file"`  // its PEM private key
	// ServerName is the name checked in the server's certificate (default:
	// the host of each address).
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any server certificate: tests only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// Redis modes.
const (
	ModeStandalone = "standalone"
	ModeCluster    = "cluster"
	ModeSentinel   = "sentinel"
)

// EnumFields lists the valid values of the block's enumerated fields.
func (*Redis) EnumFields() map[string][]string {
	return map[string][]string{"mode": {ModeStandalone, ModeCluster, ModeSentinel}}
}

// RedisOf returns cfg's stores.redis block, nil when it has none.
func RedisOf(cfg *config.Config) *Redis {
	if s := config.Section[Config](cfg, "stores"); s != nil {
		return s.Redis
	}
	return nil
}

// Servers are the addresses the client starts from: address, or addresses.
func (rc *Redis) Servers() []string {
	if len(rc.Addresses) > 0 {
		return rc.Addresses
	}
	if rc.Address != "" {
		return []string{rc.Address}
	}
	return nil
}

// Where names the deployment in log lines: the mode and its addresses.
func (rc *Redis) Where() string {
	w := rc.Mode + " " + strings.Join(rc.Servers(), ",")
	if rc.MasterName != "" {
		w += " master " + rc.MasterName
	}
	return w
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
	if r.Mode == "" {
		r.Mode = ModeStandalone
	}
	if r.KeyPrefix == "" {
		r.KeyPrefix = defaultRedisKeyPrefix
	}
	setDuration(&r.DialTimeout, defaultRedisDialTimeout)
	setDuration(&r.ReadTimeout, defaultRedisReadTimeout)
	setDuration(&r.WriteTimeout, defaultRedisWriteTimeout)
	setDuration(&r.PoolTimeout, r.Timeout())
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
	v.OneOf(p+".mode", r.Mode, ModeStandalone, ModeCluster, ModeSentinel)
	switch r.Mode {
	case ModeStandalone:
		switch {
		case len(r.Addresses) > 0:
			v.Errorf(p+".addresses", `addresses are for mode: cluster (seed nodes) or mode: sentinel (the Sentinels); a standalone server is one address: "127.0.0.1:6379"`)
		case r.Address == "":
			v.Errorf(p+".address", `an address is required: host:port, e.g. "127.0.0.1:6379"`)
		default:
			hostPort(v, p+".address", r.Address)
		}
		if r.MasterName != "" {
			v.Errorf(p+".master_name", "master_name is for mode: sentinel")
		}
	case ModeCluster, ModeSentinel:
		what := "seed nodes of the cluster"
		if r.Mode == ModeSentinel {
			what = "the Sentinels"
		}
		switch {
		case r.Address != "":
			v.Errorf(p+".address", `mode: %s takes addresses: a list of %s, e.g. addresses: ["10.0.0.1:6379", "10.0.0.2:6379"]`, r.Mode, what)
		case len(r.Addresses) == 0:
			v.Errorf(p+".addresses", `mode: %s needs addresses: a list of %s, e.g. addresses: ["10.0.0.1:6379", "10.0.0.2:6379"]`, r.Mode, what)
		}
		for i, a := range r.Addresses {
			hostPort(v, config.JoinIndex(p+".addresses", i), a)
		}
		if r.Mode == ModeCluster {
			if r.DB != 0 {
				v.Errorf(p+".db", "a Redis Cluster has only database 0; remove db")
			}
			if r.MasterName != "" {
				v.Errorf(p+".master_name", "master_name is for mode: sentinel; a cluster finds its masters itself")
			}
		} else if r.MasterName == "" {
			v.Errorf(p+".master_name", `mode: sentinel needs master_name: the name the Sentinels monitor (sentinel monitor NAME ...), e.g. "mymaster"`)
		}
	}
	if r.Mode != ModeSentinel && (r.SentinelUsername != "" || r.SentinelPassword != "") {
		v.Errorf(p+".sentinel_password", "sentinel_username and sentinel_password are for mode: sentinel")
	}
	if r.ReadFromReplicas && r.Mode != ModeCluster {
		v.Errorf(p+".read_from_replicas", "read_from_replicas is for mode: cluster (a Sentinel-watched master takes every command, so writes never reach a read-only replica)")
	}
	if strings.ContainsAny(r.KeyPrefix, "{}") {
		v.Errorf(p+".key_prefix", "%q contains { or }: keys carry their own hash tag after the prefix, so a brace in the prefix would put every key in one cluster slot", r.KeyPrefix)
	}
	v.NotNegative(p+".db", r.DB)
	v.NotNegative(p+".pool_size", r.PoolSize)
	v.NotNegative(p+".min_idle_conns", r.MinIdleConns)
	if r.MinIdleConns > 0 && r.PoolSize > 0 && r.MinIdleConns > r.PoolSize {
		v.Errorf(p+".min_idle_conns", "%d is more than pool_size (%d); keep it at most pool_size", r.MinIdleConns, r.PoolSize)
	}
	for _, d := range []struct {
		field string
		d     config.Duration
	}{{"dial_timeout", r.DialTimeout}, {"read_timeout", r.ReadTimeout}, {"write_timeout", r.WriteTimeout}, {"pool_timeout", r.PoolTimeout}} {
		if d.d < 0 {
			v.Errorf(p+"."+d.field, "%s is negative; use a positive duration such as 100ms", d.d.D())
		}
	}
	if r.TLS != nil {
		if _, err := r.TLS.Config(); err != nil {
			v.Errorf(p+".tls", "%v", err)
		}
	}
}

func hostPort(v *config.Validator, field, addr string) {
	if err := config.CheckHostPort(addr); err != nil {
		v.Errorf(field, "%v", err)
	}
}
