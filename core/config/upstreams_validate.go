package config

import (
	"net/netip"
	"strconv"
	"strings"
)

// upstreamCheck judges what core/upstream implements in an upstream block:
// the balancer and its hash key. core/upstream registers it, so the names a
// config may use are exactly those the code builds, and they are checked
// here, once, with every other problem of the file. It returns FieldErr
// errors (errors.Join'ed) relative to the block.
var upstreamCheck func(u *Upstream) error

// RegisterUpstreamCheck is for core/upstream's init. A program that loads
// configs without linking core/upstream cannot serve them either, and
// leaves the balancer unchecked.
func RegisterUpstreamCheck(check func(u *Upstream) error) { upstreamCheck = check }

// upstreamPolicies checks the policy blocks of the upstream at path p.
func (v *Validator) upstreamPolicies(p string, u *Upstream) {
	if upstreamCheck != nil {
		v.errs = append(v.errs, Resolve(v.c.File, v.c.Root, p, upstreamCheck(u))...)
	}
	if r := u.DNS.Resolver; r != "" {
		if ap, err := netip.ParseAddrPort(r); err != nil || ap.Port() == 0 {
			v.Errorf(p+".dns.resolver", "%q is not an IP address and port; give the DNS server as ip:port, e.g. 127.0.0.1:8600 or [::1]:53", r)
		}
		if u.DNS.Refresh <= 0 {
			v.Errorf(p+".dns.resolver", "a resolver is asked only by the refresh: set dns.refresh too, e.g. refresh: 30s")
		}
	}
	if a := u.Health.Active; a != nil {
		ap := p + ".health.active"
		switch {
		case a.GRPC != nil && a.Path != "":
			v.Errorf(ap+".grpc", "path and grpc are exclusive: a gRPC health check calls /grpc.health.v1.Health/Check")
		case a.GRPC != nil && u.Protocol != "h2c" && u.Protocol != "auto":
			v.Errorf(ap+".grpc", "gRPC needs HTTP/2: set the upstream's protocol to h2c (or auto with https targets)")
		case a.GRPC == nil && !strings.HasPrefix(a.Path, "/"):
			v.Errorf(ap+".path", "a health check needs a path starting with \"/\", e.g. /healthz, or grpc: {service: NAME}")
		}
		if a.Timeout > a.Interval {
			v.Errorf(ap+".timeout", "timeout %s is longer than interval %s; a check must end before the next starts", a.Timeout, a.Interval)
		}
		v.NotNegative(ap+".healthy_threshold", a.HealthyThreshold)
		v.NotNegative(ap+".unhealthy_threshold", a.UnhealthyThreshold)
		for i, s := range a.Statuses {
			if _, _, err := ParseStatusRange(s); err != nil {
				v.Errorf(JoinIndex(ap+".statuses", i), "%v", err)
			}
		}
	}
	if ps := u.Health.Passive; ps != nil {
		pp := p + ".health.passive"
		v.NotNegative(pp+".failures", ps.Failures)
		if ps.MaxEjectedPercent < 0 || ps.MaxEjectedPercent > 100 {
			v.Errorf(pp+".max_ejected_percent", "%d is not a percentage from 0 to 100", ps.MaxEjectedPercent)
		}
		if ps.MaxEject < ps.Eject {
			v.Errorf(pp+".max_eject", "%s is shorter than eject %s", ps.MaxEject, ps.Eject)
		}
	}
	if u.Retries != nil {
		v.retries(p+".retries", u.Retries)
	}
	if b := u.CircuitBreaker; b != nil {
		bp := p + ".circuit_breaker"
		v.NotNegative(bp+".max_requests", b.MaxRequests)
		v.NotNegative(bp+".max_pending", b.MaxPending)
		v.NotNegative(bp+".max_connections", b.MaxConnections)
		v.NotNegative(bp+".max_retries", b.MaxRetries)
		v.NotNegative(bp+".min_requests", b.MinRequests)
		v.NotNegative(bp+".half_open_probes", b.HalfOpenProbes)
	}
	if t := u.TLS; t != nil {
		tp := p + ".tls"
		if (t.Cert == "") != (t.Key == "") {
			v.Errorf(tp, "cert and key go together: the client certificate and its private key")
		}
		https := false
		for _, tg := range u.Targets {
			https = https || strings.HasPrefix(tg.URL, "https://")
		}
		if !https {
			v.Errorf(tp, "tls applies to https:// targets and this upstream has none")
		}
	}
	if u.SlowStart < 0 {
		v.Errorf(p+".slow_start", "cannot be negative")
	}
}

// retries checks a retries block (of an upstream or a route).
func (v *Validator) retries(p string, r *Retries) {
	if r.Attempts < 1 || r.Attempts > 10 {
		v.Errorf(p+".attempts", "%d is not valid: tries in total, the first included, from 1 to 10", r.Attempts)
	}
	for i, on := range r.On {
		if !validRetryOn(on) {
			v.Errorf(JoinIndex(p+".on", i), "%q is not a retry condition; valid: connect_failure, reset, timeout, 5xx, or a status code from 500 to 599", on)
		}
	}
	v.NotNegative(p+".min_retries", r.MinRetries)
	if r.Backoff.Max < r.Backoff.Base {
		v.Errorf(p+".backoff.max", "%s is shorter than base %s", r.Backoff.Max, r.Backoff.Base)
	}
}

func validRetryOn(s string) bool {
	switch s {
	case "connect_failure", "reset", "timeout", "5xx":
		return true
	}
	n, err := strconv.Atoi(s)
	return err == nil && n >= 500 && n <= 599
}

// routePolicies checks a route's retries and timeouts.
func (v *Validator) routePolicies(p string, r *Route) {
	if r.Retries != nil {
		if r.Upstream == "" && r.Split == nil {
			v.Errorf(p+".retries", "retries apply to routes with an upstream or a split")
		}
		v.retries(p+".retries", r.Retries)
	}
}

// ParseStatusRange reads "200" or "200-399".
func ParseStatusRange(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(s, "-")
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi = lo
	var err2 error
	if isRange {
		hi, err2 = strconv.Atoi(strings.TrimSpace(b))
	}
	if err1 != nil || err2 != nil || lo < 100 || hi > 599 || lo > hi {
		return 0, 0, &fieldError{msg: strconv.Quote(s) + ` is not a status or range; valid: "200" or "200-399" (100 to 599)`}
	}
	return lo, hi, nil
}
