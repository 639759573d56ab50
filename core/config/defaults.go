package config

import "time"

// The defaults, named so tests can refer to them. Each is also
// documented on its field in types.go. A zero value in YAML means "the
// default" for all of them.
const (
	defaultDrainTimeout          = 30 * time.Second
	defaultUnderscoreHeaders     = "drop"
	defaultMaxRequestBody        = 16 << 20 // 16MiB
	defaultReadHeaderTimeout     = 10 * time.Second
	defaultReadTimeout           = 60 * time.Second
	defaultWriteTimeout          = 60 * time.Second
	defaultIdleTimeout           = 120 * time.Second
	defaultMaxHeaderBytes        = 64 << 10 // 64KiB
	defaultMaxConcurrentStreams  = 250
	defaultMaxHeaderCount        = 100
	defaultListenerEngine        = "native"
	defaultTLSMinVersion         = "1.2"
	defaultAdminAddress          = "127.0.0.1:9901"
	defaultBalancer              = "round_robin"
	defaultProtocol              = "http1"
	defaultMaxIdlePerTarget      = 256
	defaultConnectTimeout        = 5 * time.Second
	defaultResponseHeaderTimeout = 30 * time.Second
	defaultUpstreamIdleTimeout   = 90 * time.Second
	defaultRespondStatus         = 200
	defaultRedirectStatus        = 302 // see Redirect.Status
	defaultMinBodyRate           = 240 // bytes per second
	defaultMinBodyRateGrace      = 5 * time.Second
	defaultMinResponseRate       = 240 // bytes per second, as Kestrel's MinResponseDataRate
	defaultMinResponseRateGrace  = 5 * time.Second
)

// applyDefaults fills every field left unset. It runs once, before
// validation, on a config nobody else holds yet.
func applyDefaults(c *Config) {
	s := &c.Server
	setDuration(&s.DrainTimeout, defaultDrainTimeout)
	setString(&s.UnderscoreHeaders, defaultUnderscoreHeaders)
	setBool(&s.MergeSlashes, true)
	setSize(&s.MaxRequestBody, defaultMaxRequestBody)
	if s.MinRequestBodyRate.BytesPerSecond == nil {
		rate := Size(defaultMinBodyRate)
		s.MinRequestBodyRate.BytesPerSecond = &rate
	}
	setDuration(&s.MinRequestBodyRate.Grace, defaultMinBodyRateGrace)
	if s.MinResponseRate.BytesPerSecond == nil {
		rate := Size(defaultMinResponseRate)
		s.MinResponseRate.BytesPerSecond = &rate
	}
	setDuration(&s.MinResponseRate.Grace, defaultMinResponseRateGrace)

	for i := range c.Listeners {
		l := &c.Listeners[i]
		setString(&l.Name, l.Address)
		setDuration(&l.Timeouts.ReadHeader, defaultReadHeaderTimeout)
		setDuration(&l.Timeouts.Read, defaultReadTimeout)
		setDuration(&l.Timeouts.Write, defaultWriteTimeout)
		setDuration(&l.Timeouts.Idle, defaultIdleTimeout)
		setSize(&l.MaxHeaderBytes, defaultMaxHeaderBytes)
		setString(&l.Engine, defaultListenerEngine)
		if l.MaxHeaderCount == 0 {
			l.MaxHeaderCount = defaultMaxHeaderCount
		}
		if l.AcceptRate.Burst == 0 && l.AcceptRate.PerSecond > 0 {
			l.AcceptRate.Burst = l.AcceptRate.PerSecond
		}
		if l.HTTP2.MaxConcurrentStreams == 0 {
			l.HTTP2.MaxConcurrentStreams = defaultMaxConcurrentStreams
		}
		if l.HTTP3 != nil {
			l.HTTP3.applyDefaults() // http3.go
		}
		if t := l.TLS; t != nil {
			setBool(&t.HTTP2, true)
			setString(&t.MinVersion, defaultTLSMinVersion)
			if t.ACME != nil {
				acmeDefaults(t.ACME, c.hasPlainListener())
			}
			if t.ClientCA != "" {
				setString(&t.ClientAuth, "require")
			} else {
				setString(&t.ClientAuth, "none")
			}
		}
	}

	setString(&c.Admin.Address, defaultAdminAddress)

	for name, u := range c.Upstreams {
		if u == nil { // "users:" with nothing under it; validation says what is missing
			u = &Upstream{}
			c.Upstreams[name] = u
		}
		setString(&u.Balancer, defaultBalancer)
		setString(&u.Protocol, defaultProtocol)
		if u.Protocol == "http1" {
			setString(&u.Engine, "native")
		} else {
			setString(&u.Engine, "std")
		}
		if u.MaxIdlePerTarget == 0 {
			u.MaxIdlePerTarget = defaultMaxIdlePerTarget
		}
		setDuration(&u.Timeouts.Connect, defaultConnectTimeout)
		setDuration(&u.Timeouts.ResponseHeader, defaultResponseHeaderTimeout)
		setDuration(&u.Timeouts.Idle, defaultUpstreamIdleTimeout)
		for j := range u.Targets {
			if u.Targets[j].Weight == 0 {
				u.Targets[j].Weight = 1
			}
		}
		upstreamDefaults(u) // upstreams.go
	}

	observabilityDefaults(&c.Observability) // observability.go
	versioningDefaults(c.Versioning)        // versioning.go

	for i := range c.Routes {
		if r := c.Routes[i].Redirect; r != nil {
			if r.Status == 0 {
				r.Status = defaultRedirectStatus
			}
			// An upgrade to https of the same URL answers only plain-HTTP
			// requests: over TLS it would send the client to itself.
			m := &c.Routes[i].Match
			if r.HTTPS && r.Location == "" && m.Scheme == "" {
				m.Scheme = "http"
			}
		}
		if r := c.Routes[i].Respond; r != nil && r.Status == 0 {
			r.Status = defaultRespondStatus
		}
		routeDefaults(&c.Routes[i]) // upstreams.go
	}
}

func setString(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func setBool(p **bool, v bool) {
	if *p == nil {
		*p = &v
	}
}

func setDuration(p *Duration, v time.Duration) {
	if *p == 0 {
		*p = Duration(v)
	}
}

func setSize(p *Size, v int64) {
	if *p == 0 {
		*p = Size(v)
	}
}

// hasPlainListener reports whether a listener serves without TLS, where
// ACME http-01 challenges are answered.
func (c *Config) hasPlainListener() bool {
	for _, l := range c.Listeners {
		if l.TLS == nil {
			return true
		}
	}
	return false
}
