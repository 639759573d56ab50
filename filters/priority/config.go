// Package priority sheds load by priority: routes (or consumers) carry a
// level, and when the requests in flight in a group pass a share of its
// capacity, lower levels are refused first (503 + Retry-After), so the
// traffic that matters keeps its latency while the gateway or an upstream
// is saturated.
package priority

import (
	"errors"
	"strings"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
)

func init() {
	filter.Register("priority", func() filter.Config { return new(Config) })
}

// Config is the `priority:` block of a route's filters.
type Config struct {
	// Level is this route's priority: low, normal (default), high or critical.
	Level string `yaml:"level"`
	// Group names the in-flight count shared by every route that names it
	// (default "gateway": one count for all of them). Name an upstream's
	// group after it to shed by that upstream's saturation.
	Group string `yaml:"group"`
	// Capacity is the in-flight count at which the group is saturated,
	// required. Each level is admitted while the count is under its share
	// of it: low 50%, normal 70%, high 85%, critical 100%.
	Capacity int `yaml:"capacity"`
	// ConsumerLevel names the consumer metadata entry whose value, if it is
	// a level, overrides Level for that consumer (default "priority").
	ConsumerLevel string `yaml:"consumer_level"`
}

// shares is each level's fraction of capacity, in percent.
var shares = map[string]int{"low": 50, "normal": 70, "high": 85, "critical": 100}

const levelList = "low, normal, high, critical"

// Validate checks the block as written.
func (c *Config) Validate() error {
	var errs []error
	if _, ok := shares[c.Level]; !ok && c.Level != "" {
		errs = append(errs, config.FieldErr("level", "%q is not valid; valid values: %s", c.Level, levelList))
	}
	if c.Capacity <= 0 {
		errs = append(errs, config.FieldErr("capacity", "a positive in-flight count is required, e.g. capacity: 1000"))
	}
	if strings.ContainsAny(c.Group, "\x00") {
		errs = append(errs, config.FieldErr("group", "%q is not a valid group name", c.Group))
	}
	return errors.Join(errs...)
}

func (c *Config) threshold(level string) int64 {
	return int64(c.Capacity) * int64(shares[level]) / 100
}

func levelOr(s, def string) string {
	if _, ok := shares[s]; ok {
		return s
	}
	return def
}
