// Package ratelimit limits request rates per key (client IP, consumer,
// header, route parameter, JWT claim, or a composition), in process or
// shared by every gateway instance through Redis, and tells clients where
// they stand with the IETF RateLimit-Policy and RateLimit header fields.
package ratelimit

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/limits"
)

func init() {
	filter.Register("rate_limit", func() filter.Config { return new(Config) })
}

// Config is the `rate_limit:` block of a route's filters.
type Config struct {
	// Name names the policy in RateLimit-Policy, RateLimit and the 429
	// body (default: the route's name).
	Name string     `yaml:"name"`
	Key  limits.Key `yaml:"key"` // who shares a limit; none: the whole route
	Rate Rate       `yaml:"rate"`
	// Burst is how many requests may arrive at once (default: the rate's
	// count, so "100/s" admits 100 at once, then one every 10ms).
	Burst int `yaml:"burst"`
	// Store is local (default: this instance only) or redis (shared by
	// every instance, from stores.redis).
	Store string `yaml:"store"`
	// OnStoreFailure applies while Redis cannot answer: fail_open (default)
	// limits with a per-instance local limiter, fail_closed answers 503.
	OnStoreFailure limits.FailurePolicy `yaml:"on_store_failure"`
	// MaxKeys bounds the keys a local limiter keeps (default 262144, about
	// 10MB); past it, idle keys are evicted first.
	MaxKeys int `yaml:"max_keys"`
	// Headers adds RateLimit-Policy and RateLimit to responses (default true).
	Headers *bool `yaml:"headers"`
	// Consumers gives named consumers a rate of their own, and Tiers the
	// consumers whose metadata `tier` has that value (a named consumer's
	// own entry wins). Each is a separate policy, named "<name>.<consumer>"
	// or "<name>.tier-<tier>", with buckets of its own.
	Consumers map[string]Override `yaml:"consumers"`
	Tiers     map[string]Override `yaml:"tiers"`
}

// Override is a rate and burst in place of the block's own.
type Override struct {
	Rate  Rate `yaml:"rate"`
	Burst int  `yaml:"burst"` // default: the rate's count
}

const defaultMaxKeys = 1 << 18

// Rate is a count per period: "100/s", "6000/m", "50000/h", "1/d"; the
// count may also be given per several units: "10/5s".
type Rate struct {
	Count  int64
	Period time.Duration
	text   string
}

var rateUnits = map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}

const rateHelp = `expected a rate like "100/s", "6000/m", "10/5s" (units: s, m, h, d)`

// UnmarshalNode reads "COUNT/PERIOD".
func (r *Rate) UnmarshalNode(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return errors.New(rateHelp)
	}
	v, err := ParseRate(n.Value)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// ParseRate reads "COUNT/PERIOD".
func ParseRate(s string) (Rate, error) {
	count, per, ok := strings.Cut(strings.TrimSpace(s), "/")
	c, err := strconv.ParseInt(count, 10, 64)
	if !ok || err != nil || c <= 0 {
		return Rate{}, fmt.Errorf("%s, got %q", rateHelp, s)
	}
	mult := int64(1)
	if i := strings.IndexFunc(per, func(r rune) bool { return r < '0' || r > '9' }); i > 0 {
		if mult, err = strconv.ParseInt(per[:i], 10, 64); err != nil || mult <= 0 {
			return Rate{}, fmt.Errorf("%s, got %q", rateHelp, s)
		}
		per = per[i:]
	}
	unit, ok := rateUnits[per]
	if !ok {
		return Rate{}, fmt.Errorf("%s, got %q", rateHelp, s)
	}
	return Rate{Count: c, Period: time.Duration(mult) * unit, text: s}, nil
}

func (r Rate) String() string { return r.text }

// interval is the GCRA emission interval: the time one request costs.
func (r Rate) interval() time.Duration { return r.Period / time.Duration(r.Count) }

// Validate checks the block as written.
func (c *Config) Validate() error {
	errs := checkRate("", c.Rate, c.Burst)
	for _, set := range []struct {
		field string
		m     map[string]Override
	}{{"consumers", c.Consumers}, {"tiers", c.Tiers}} {
		for _, k := range slices.Sorted(maps.Keys(set.m)) {
			errs = append(errs, checkRate(set.field+"."+k+".", set.m[k].Rate, set.m[k].Burst)...)
		}
	}
	switch c.Store {
	case "", "local", "redis":
	default:
		errs = append(errs, config.FieldErr("store", "%q is not valid; valid values: local, redis", c.Store))
	}
	if err := c.OnStoreFailure.Check("on_store_failure"); err != nil {
		errs = append(errs, err)
	}
	if c.MaxKeys < 0 {
		errs = append(errs, config.FieldErr("max_keys", "%d is negative; use a positive number (0 means %d)", c.MaxKeys, defaultMaxKeys))
	}
	if c.Name != "" && strings.ContainsAny(c.Name, "\"\\") {
		errs = append(errs, config.FieldErr("name", `%q: a policy name cannot contain '"' or '\'`, c.Name))
	}
	return errors.Join(errs...)
}

// checkRate checks a rate and burst, at fields prefixed with at.
func checkRate(at string, r Rate, burst int) []error {
	var errs []error
	if r.Count == 0 {
		errs = append(errs, config.FieldErr(at+"rate", `a rate is required, e.g. rate: 100/s`))
	} else if r.interval() < time.Microsecond {
		errs = append(errs, config.FieldErr(at+"rate", "%s is more than 1000000/s, the most a limiter tracks", r))
	}
	if burst < 0 {
		errs = append(errs, config.FieldErr(at+"burst", "%d is negative; use a positive number (0 means the rate's count)", burst))
	}
	return errs
}

// burstOf is burst, or the rate's count when burst is 0.
func burstOf(r Rate, burst int) int64 {
	if burst > 0 {
		return int64(burst)
	}
	return r.Count
}

func (c *Config) maxKeys() int {
	if c.MaxKeys > 0 {
		return c.MaxKeys
	}
	return defaultMaxKeys
}

var _ config.NodeUnmarshaler = (*Rate)(nil)

// SingularIdentity: two limits on the same key over the same period both
// count every request, so the lower one wins and the higher one only costs.
// Different periods (100/s and 10000/h) are a burst and a sustained limit,
// a reasonable pair, and different keys limit different callers.
func (c *Config) SingularIdentity() string {
	return fmt.Sprintf("key %s per %s", c.Key, c.Rate.Period)
}

var _ filter.Singular = (*Config)(nil)

// JSONSchema: "COUNT/PERIOD".
func (*Rate) JSONSchema() map[string]any {
	return map[string]any{"type": "string", "pattern": `^\s*[0-9]+/[0-9]*[smhd]\s*$`}
}
