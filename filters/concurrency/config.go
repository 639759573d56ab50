// Package concurrency caps the requests in flight per key (route, consumer,
// client IP, ...): a request over the cap is refused with 429 at once rather
// than queued, and its slot is released when the exchange is done, however
// it ended.
package concurrency

import (
	"errors"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/limits"
)

func init() {
	filter.Register("concurrency", func() filter.Config { return new(Config) })
}

// Config is the `concurrency:` block of a route's filters.
type Config struct {
	// Name names the policy in headers and the 429 body (default: the route's name).
	Name string     `yaml:"name"`
	Key  limits.Key `yaml:"key"` // who shares the cap; none: the whole route
	Max  int        `yaml:"max"` // requests in flight per key, required
	// Consumers overrides Max for named consumers.
	Consumers map[string]int `yaml:"consumers"`
	// Headers adds RateLimit-Policy and RateLimit (default true).
	Headers *bool `yaml:"headers"`
}

// Validate checks the block as written.
func (c *Config) Validate() error {
	var errs []error
	if c.Max <= 0 {
		errs = append(errs, config.FieldErr("max", "a positive number of requests in flight is required, e.g. max: 100"))
	}
	for name, n := range c.Consumers {
		if n <= 0 {
			errs = append(errs, config.FieldErr("consumers."+name, "%d: a positive number is required", n))
		}
	}
	return errors.Join(errs...)
}
