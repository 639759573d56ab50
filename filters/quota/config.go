// Package quota enforces long-window quotas (per hour, day or month, by
// default per consumer) in Redis, shared by every gateway instance, and
// shows what is left in the RateLimit header fields.
package quota

import (
	"errors"
	"strings"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/limits"
)

func init() {
	filter.Register("quota", func() filter.Config { return new(Config) })
}

// Config is the `quota:` block of a route's filters.
type Config struct {
	// Name names the quota; routes that give the same name (and key) share
	// one count, so a plan can span an API. Required.
	Name string `yaml:"name"`
	// Key is whose quota it is (default: consumer; requests without one
	// are counted by client IP).
	Key    limits.Key `yaml:"key"`
	Limit  int64      `yaml:"limit"`  // requests per period, required
	Period string     `yaml:"period"` // hour | day | month (calendar, UTC), required
	// OnStoreFailure applies while Redis cannot answer: fail_open (default:
	// admit, uncounted) or fail_closed (503).
	OnStoreFailure limits.FailurePolicy `yaml:"on_store_failure"`
	Headers        *bool                `yaml:"headers"` // default true
}

// Validate checks the block as written.
func (c *Config) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, config.FieldErr("name", "a quota name is required, e.g. name: monthly-plan (routes with the same name share the count)"))
	} else if strings.ContainsAny(c.Name, "\"\\") {
		errs = append(errs, config.FieldErr("name", `%q: a quota name cannot contain '"' or '\'`, c.Name))
	}
	if c.Limit <= 0 {
		errs = append(errs, config.FieldErr("limit", "a positive number of requests is required, e.g. limit: 10000"))
	}
	switch c.Period {
	case "hour", "day", "month":
	default:
		errs = append(errs, config.FieldErr("period", "%q is not valid; valid values: hour, day, month", c.Period))
	}
	if err := c.OnStoreFailure.Check("on_store_failure"); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
