package config

import (
	"strings"
	"testing"
	"time"
)

func TestRedisStoreDefaultsAndEnv(t *testing.T) {
	c, err := parse("gw.yaml", doc(`
listeners: [{address: ":8080"}]
stores:
  redis: { address: "10.0.0.5:6379", password: "${REDIS_PASSWORD}", db: 2 }
`), env("REDIS_PASSWORD", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Stores.Redis
	if r.Password != "s3cret" || r.DB != 2 || r.KeyPrefix != "wasmgate:" || r.PoolSize != 64 ||
		r.DialTimeout.D() != 250*time.Millisecond || r.ReadTimeout.D() != 100*time.Millisecond || r.WriteTimeout.D() != 100*time.Millisecond {
		t.Errorf("redis store %+v: want the password from the environment and the defaults", r)
	}
}

func TestRedisStoreErrors(t *testing.T) {
	errs := parseErrs(t, `
listeners: [{address: ":8080"}]
stores:
  redis: { address: "localhost", db: -1, pool_size: -3 }
`, env())
	got := strings.Join(errs, "\n")
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
