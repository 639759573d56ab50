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
	want := `gw.yaml:3:39: stores.redis.poolsize: unknown field "poolsize"; valid fields: address, db, dial_timeout, key_prefix, password, pool_size, read_timeout, username, write_timeout; did you mean "pool_size"?
gw.yaml:4:3: stores.memcache: unknown field "memcache"; valid fields: redis`
	if err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
}
