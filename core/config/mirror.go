package config

// Mirror copies a route's requests to a shadow upstream without waiting
// for it: its answers are read and dropped, its failures counted and never
// seen by the client.
type Mirror struct {
	Upstream string `yaml:"upstream"` // required
	// Percent of the route's requests mirrored, 0 < p ≤ 100, to two
	// decimals (default 100).
	Percent *float64 `yaml:"percent"`
	// MaxBody: a request whose body is larger is not mirrored (counted as
	// skipped); bodies up to it are read before the primary request is
	// sent, so both get the same bytes (default 64KiB).
	MaxBody Size `yaml:"max_body"`
	// MaxInFlight caps the mirrored requests in flight for the route; past
	// it a copy is dropped and counted, so a shadow that hangs costs at
	// most this many requests and bodies (default 32).
	MaxInFlight int `yaml:"max_in_flight"`
	// Timeout bounds each mirrored exchange (default 10s).
	Timeout Duration `yaml:"timeout"`
}

// Defaults of a mirror.
const (
	DefaultMirrorMaxBody     = 64 << 10
	DefaultMirrorMaxInFlight = 32
)

func (v *Validator) mirror(p string, r *Route) {
	m := r.Mirror
	if m == nil {
		return
	}
	p += ".mirror"
	if r.Upstream == "" && r.Split == nil {
		v.Errorf(p, "mirror applies to routes whose target is an upstream or a split")
	}
	if m.Upstream == "" {
		v.Errorf(p+".upstream", "an upstream is required: the shadow to send copies to, one of the names under upstreams")
	} else {
		v.Upstream(p+".upstream", m.Upstream)
		if m.Upstream == r.Upstream {
			v.Errorf(p+".upstream", "the mirror is the route's own upstream %q: every mirrored request would reach it twice", m.Upstream)
		}
	}
	if pc := m.Percent; pc != nil && (*pc <= 0 || *pc > 100) {
		v.Errorf(p+".percent", "%v is not a share of requests; valid: above 0 up to 100 (leave it out for 100)", *pc)
	}
	if m.MaxInFlight < 0 {
		v.Errorf(p+".max_in_flight", "%d is negative; a positive count, or leave it out for %d", m.MaxInFlight, DefaultMirrorMaxInFlight)
	}
	if m.Timeout < 0 {
		v.Errorf(p+".timeout", "a positive duration is required, e.g. 5s")
	}
}
