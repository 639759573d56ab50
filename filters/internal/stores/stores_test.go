package stores_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/filters/internal/stores"
)

func doc(s string) []byte { return []byte(strings.TrimPrefix(s, "\n")) }

func TestRedisStoreDefaultsAndEnv(t *testing.T) {
	t.Setenv("REDIS_PASSWORD", "s3cret")
	c, err := config.Parse("gw.yaml", doc(`
listeners: [{address: ":8080"}]
stores:
  redis: { address: "10.0.0.5:6379", password: "${REDIS_PASSWORD}", db: 2 }
`))
	if err != nil {
		t.Fatal(err)
	}
	r := stores.RedisOf(c)
	if r.Password != "s3cret" || r.DB != 2 || r.KeyPrefix != "wasmgate:" || r.PoolSize != 64 ||
		r.DialTimeout.D() != 250*time.Millisecond || r.ReadTimeout.D() != 100*time.Millisecond || r.WriteTimeout.D() != 100*time.Millisecond {
		t.Errorf("redis store %+v: want the password from the environment and the defaults", r)
	}

	c, err = config.Parse("gw.yaml", doc(`listeners: [{address: ":8080"}]`))
	if err != nil || stores.RedisOf(c) != nil {
		t.Errorf("a config without stores has a redis block: %v %+v", err, stores.RedisOf(c))
	}
}

func TestRedisStoreErrors(t *testing.T) {
	_, err := config.Parse("gw.yaml", doc(`
listeners: [{address: ":8080"}]
stores:
  redis: { address: "localhost", db: -1, pool_size: -3 }
`))
	var es config.Errors
	if !errors.As(err, &es) {
		t.Fatalf("got %v, want config errors", err)
	}
	got := es.Error()
	for _, want := range []string{
		`gw.yaml:3:12: stores.redis.address: "localhost" is not host:port`,
		`stores.redis.db: -1 is negative`,
		`stores.redis.pool_size: -3 is negative`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors\n%s\nlack %q", got, want)
		}
	}
}

func TestRedisStoreUnknownField(t *testing.T) {
	_, err := config.Parse("gw.yaml", doc(`
listeners: [{address: ":8080"}]
stores:
  redis: { address: "127.0.0.1:6379", poolsize: 3 }
  memcache: {}
`))
	want := `gw.yaml:3:39: stores.redis.poolsize: unknown field "poolsize"; valid fields: address, addresses, db, dial_timeout, key_prefix, master_name, min_idle_conns, mode, password, pool_size, pool_timeout, read_from_replicas, read_timeout, sentinel_password, sentinel_username, tls, username, write_timeout; did you mean "pool_size"?
gw.yaml:4:3: stores.memcache: unknown field "memcache"; valid fields: redis`
	if err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
}

func TestRedisModes(t *testing.T) {
	t.Setenv("SENTINEL_PASSWORD", "watch3r")
	c, err := config.Parse("gw.yaml", doc(`
listeners: [{address: ":8080"}]
stores:
  redis:
    mode: sentinel
    addresses: ["10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3:26379"]
    master_name: mymaster
    sentinel_password: ${SENTINEL_PASSWORD}
    min_idle_conns: 4
`))
	if err != nil {
		t.Fatal(err)
	}
	r := stores.RedisOf(c)
	if r.Mode != "sentinel" || len(r.Servers()) != 3 || r.MasterName != "mymaster" || r.SentinelPassword != "watch3r" ||
		r.MinIdleConns != 4 || r.PoolTimeout.D() != 200*time.Millisecond {
		t.Errorf("sentinel block %+v: want the addresses, the master, the password from the environment and pool_timeout = read+write timeouts", r)
	}
	c, err = config.Parse("gw.yaml", doc(`
listeners: [{address: ":8080"}]
stores:
  redis: { mode: cluster, addresses: ["10.0.0.1:7000", "10.0.0.2:7000"], read_from_replicas: true, pool_timeout: 50ms }
`))
	if err != nil {
		t.Fatal(err)
	}
	if r := stores.RedisOf(c); r.Mode != "cluster" || !r.ReadFromReplicas || r.PoolTimeout.D() != 50*time.Millisecond || r.Where() != "cluster 10.0.0.1:7000,10.0.0.2:7000" {
		t.Errorf("cluster block %+v", r)
	}
}

// Each mode's mistakes are reported at their line and column, saying what
// would be valid.
func TestRedisModeErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{`
stores:
  redis: { mode: replicated, address: "10.0.0.1:6379" }`,
			`gw.yaml:3:12: stores.redis.mode: "replicated" is not valid; valid values: standalone, cluster, sentinel`},
		{`
stores:
  redis:
    mode: cluster
    address: "10.0.0.1:7000"`,
			`gw.yaml:5:5: stores.redis.address: mode: cluster takes addresses: a list of seed nodes of the cluster`},
		{`
stores:
  redis:
    mode: cluster
    addresses: ["10.0.0.1:7000", "nohost"]
    db: 3`,
			"gw.yaml:5:34: stores.redis.addresses[1]: \"nohost\" is not host:port"},
		{`
stores:
  redis:
    mode: cluster
    addresses: ["10.0.0.1:7000"]
    db: 3`,
			`gw.yaml:6:5: stores.redis.db: a Redis Cluster has only database 0`},
		{`
stores:
  redis:
    mode: sentinel
    addresses: ["10.0.0.1:26379"]`,
			`gw.yaml:3:3: stores.redis.master_name: mode: sentinel needs master_name`},
		{`
stores:
  redis: { address: "10.0.0.1:6379", addresses: ["10.0.0.2:6379"] }`,
			`gw.yaml:3:38: stores.redis.addresses: addresses are for mode: cluster`},
		{`
stores:
  redis: { address: "10.0.0.1:6379", read_from_replicas: true }`,
			`gw.yaml:3:38: stores.redis.read_from_replicas: read_from_replicas is for mode: cluster`},
		{`
stores:
  redis: { address: "10.0.0.1:6379", key_prefix: "app{1}:" }`,
			`stores.redis.key_prefix: "app{1}:" contains { or }`},
		{`
stores:
  redis: { address: "10.0.0.1:6379", pool_size: 4, min_idle_conns: 8 }`,
			`stores.redis.min_idle_conns: 8 is more than pool_size (4)`},
		{`
stores:
  redis:
    address: "10.0.0.1:6379"
    tls: { cert: /nonexistent/client.pem }`,
			`gw.yaml:5:5: stores.redis.tls: cert and key go together`},
		{`
stores:
  redis:
    address: "10.0.0.1:6379"
    tls: { ca: /nonexistent/ca.pem }`,
			`stores.redis.tls: ca: open /nonexistent/ca.pem: no such file or directory`},
	} {
		_, err := config.Parse("gw.yaml", doc("\nlisteners: [{address: \":8080\"}]"+tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("config%s\ngot error:\n%v\nwant one containing:\n%s", tc.yaml, err, tc.want)
		}
	}
}
