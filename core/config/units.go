package config

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written as a Go duration string ("250ms", "5s").
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalNode reads a Go duration string; a bare 0 is allowed, as in Go,
// and negative durations are refused since no timeout here can be negative.
func (d *Duration) UnmarshalNode(n *yaml.Node) error {
	if isNull(n) {
		return nil
	}
	const want = `expected a duration like "250ms" or "5s"`
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("%s, got %s", want, describe(n))
	}
	v, err := time.ParseDuration(n.Value)
	switch {
	case err != nil && isDigits(n.Value):
		return fmt.Errorf("%s, got %s (a unit is required)", want, describe(n))
	case err != nil:
		return fmt.Errorf("%s, got %s", want, describe(n))
	case v < 0:
		return fmt.Errorf("%s, got %s: durations cannot be negative", want, describe(n))
	}
	*d = Duration(v)
	return nil
}

// Size is a byte count written as a number or with a unit
// ("512", "64KiB", "16MiB", "1GiB", "10kB", "5MB").
type Size int64

// sizeUnits are the accepted suffixes: SI (1000-based) and IEC (1024-based).
var sizeUnits = map[string]int64{
	"B":  1,
	"KB": 1000, "kB": 1000, "MB": 1000 * 1000, "GB": 1000 * 1000 * 1000,
	"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30,
}

// UnmarshalNode reads a byte count: digits, optionally followed by a unit.
func (s *Size) UnmarshalNode(n *yaml.Node) error {
	if isNull(n) {
		return nil
	}
	const want = `expected a size like "512", "64KiB" or "16MiB" (units: B, KB, MB, GB, KiB, MiB, GiB)`
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("%s, got %s", want, describe(n))
	}
	text := strings.TrimSpace(n.Value)
	digits := strings.TrimRight(text, "BKMGiBk ")
	unit := strings.TrimSpace(text[len(digits):])
	mult := int64(1)
	if unit != "" {
		m, ok := sizeUnits[unit]
		if !ok {
			return fmt.Errorf("%s, got %s", want, describe(n))
		}
		mult = m
	}
	if strings.HasPrefix(digits, "-") {
		return fmt.Errorf("%s, got %s: sizes cannot be negative", want, describe(n))
	}
	if !isDigits(digits) {
		return fmt.Errorf("%s, got %s", want, describe(n))
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if errors.Is(err, strconv.ErrRange) || (err == nil && v > math.MaxInt64/mult) {
		return fmt.Errorf("%s is too large; the most is %d bytes", describe(n), int64(math.MaxInt64))
	}
	if err != nil {
		return fmt.Errorf("%s, got %s", want, describe(n))
	}
	*s = Size(v * mult)
	return nil
}

// CIDR is an IP prefix ("10.0.0.0/8"); a bare address means a single host.
type CIDR struct{ netip.Prefix }

// UnmarshalNode reads a prefix or a bare address (a /32 or /128). Host bits
// set beyond the prefix length ("10.1.2.3/8") are cleared, which is what
// such an entry means.
func (c *CIDR) UnmarshalNode(n *yaml.Node) error {
	if isNull(n) {
		return nil
	}
	const want = `expected an IP prefix like "10.0.0.0/8" or "2001:db8::/32", or an address like "192.0.2.1"`
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("%s, got %s", want, describe(n))
	}
	if p, err := netip.ParsePrefix(n.Value); err == nil {
		c.Prefix = p.Masked()
		return nil
	}
	a, err := netip.ParseAddr(n.Value)
	if err != nil || a.Zone() != "" {
		return fmt.Errorf("%s, got %s", want, describe(n))
	}
	c.Prefix = netip.PrefixFrom(a, a.BitLen())
	return nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

var (
	_ NodeUnmarshaler = (*Duration)(nil)
	_ NodeUnmarshaler = (*Size)(nil)
	_ NodeUnmarshaler = (*CIDR)(nil)
)

// JSONSchema: a Go duration string, or a bare 0.
func (*Duration) JSONSchema() map[string]any {
	return map[string]any{"anyOf": []any{
		map[string]any{"const": 0},
		map[string]any{"type": "string", "pattern": `^\+?(0|([0-9]*(\.[0-9]*)?(ns|us|µs|μs|ms|s|m|h))+)$`},
	}}
}

// JSONSchema: a byte count, or digits with a unit.
func (*Size) JSONSchema() map[string]any {
	return map[string]any{"anyOf": []any{
		map[string]any{"type": "integer", "minimum": 0},
		map[string]any{"type": "string", "pattern": `^\s*[0-9]+\s*(B|KB|kB|MB|GB|KiB|MiB|GiB)?\s*$`},
	}}
}

// JSONSchema: an IP prefix or address (what is a valid one, validate says).
func (*CIDR) JSONSchema() map[string]any {
	return map[string]any{"type": "string", "pattern": `^[0-9A-Fa-f.:]+(/[0-9]+)?$`}
}
