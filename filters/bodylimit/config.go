// Package bodylimit caps request bodies per route and per consumer, tighter
// than the route's max_request_body: a declared Content-Length over the cap
// is refused at once, and a body without one (chunked) is cut off with 413
// as soon as it passes the cap while streaming.
package bodylimit

import (
	"errors"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
)

func init() {
	filter.Register("body_limit", func() filter.Config { return new(Config) })
}

// Config is the `body_limit:` block of a route's filters.
type Config struct {
	Max config.Size `yaml:"max"` // bytes, required: "1MiB", "512KiB", "100"
	// Consumers overrides Max for named consumers (place body_limit after
	// the auth filter that sets the consumer).
	Consumers map[string]config.Size `yaml:"consumers"`
}

// Validate checks the block as written.
func (c *Config) Validate() error {
	var errs []error
	if c.Max <= 0 {
		errs = append(errs, config.FieldErr("max", `a size is required, e.g. max: 1MiB`))
	}
	for name, n := range c.Consumers {
		if n <= 0 {
			errs = append(errs, config.FieldErr("consumers."+name, `a positive size is required, e.g. 10MiB`))
		}
	}
	return errors.Join(errs...)
}
