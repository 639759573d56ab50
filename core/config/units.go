package config

import (
	"net/netip"
	"time"
)

// Duration is a time.Duration written as a Go duration string ("250ms", "5s").
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Size is a byte count written as a number or with a unit
// ("512", "64KiB", "16MiB", "1GiB", "10kB", "5MB").
type Size int64

// CIDR is an IP prefix ("10.0.0.0/8"); a bare address means a single host.
type CIDR struct{ netip.Prefix }
