package identity

import (
	"github.com/wasmgate/wasmgate/core/filter"
)

// AuthConfig is the part of an auth filter's config every auth filter has:
// its fields as decoded, and the filter's registry name.
type AuthConfig struct {
	Filter    string   // registry name ("apikey"): labels the failure counts
	Consumers []string // `consumers:`, the consumers allowed on the route (field "consumers")
	Anonymous string   // `anonymous:`, the consumer a request without credentials goes as
	Realm     string   // `realm:` of WWW-Authenticate; "" for "wasmgate"
}

// Auth is what every auth filter builds first, the same way: the consumers
// it lets on the route, who a request without credentials goes as, every
// declared consumer by name (to point its credentials at), the realm of
// its challenges, and its refusal counters.
type Auth struct {
	Allowed   map[string]bool      // nil: every consumer
	Anonymous *Consumer            // nil: a request without credentials is refused
	Consumers map[string]*Consumer // every declared consumer, by name
	Realm     string

	// What Failure needs of the BuildContext, not the context itself: an
	// Auth a filter keeps must not pin the builder and its snapshot.
	route  string
	meter  filter.Meter
	filter string
}

// NewAuth checks c against the config being built: a name in consumers or
// anonymous must be a declared consumer, and the anonymous one must be
// among consumers when those are given.
func NewAuth(bc *filter.BuildContext, c AuthConfig) (*Auth, error) {
	a := &Auth{Realm: c.Realm, route: bc.Route, meter: bc.Meter, filter: c.Filter}
	if a.Realm == "" {
		a.Realm = "wasmgate"
	}
	var err error
	if a.Allowed, err = allowed(bc.Config, "consumers", c.Consumers); err != nil {
		return nil, err
	}
	if a.Anonymous, err = anonymous(bc.Config, c.Anonymous, a.Allowed); err != nil {
		return nil, err
	}
	a.Consumers = index(bc.Config)
	return a, nil
}

// Failure returns the filter's counter of refusals for reason on its
// route, for wasmgate_auth_failures_total. Take it at build time: counting
// is then one atomic add.
func (a *Auth) Failure(reason string) *filter.Counter {
	return FailureCounter(&filter.BuildContext{Route: a.route, Meter: a.meter}, a.filter, reason)
}
