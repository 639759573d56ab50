package mtls

import (
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/identity"
)

// Filter maps verified client certificates to consumers.
type Filter struct {
	subjects map[string]*identity.Consumer // by Subject.String()
	sans     map[string]*identity.Consumer // DNS, email, URI or IP SAN
	allowed  map[string]bool
	failures failures
	// anonymous: nil means a request without a verified certificate is refused.
	anonymous *identity.Consumer
}

type failures struct {
	missing, unknown, forbidden *filter.Counter
}

func newFailures(a *identity.Auth) failures {
	return failures{
		missing:   a.Failure("missing"),
		unknown:   a.Failure("unknown"),
		forbidden: a.Failure("forbidden"),
	}
}

// OnRequest needs a certificate the listener verified against its client
// CA: r.TLS.VerifiedChains[0][0]. An unverified certificate (client_auth
// "request" without a valid chain) never counts. No certificate is 401; a
// verified one that maps to no consumer, or to one not allowed here, 403.
func (f *Filter) OnRequest(x *filter.Exchange) *filter.Response {
	st := x.Request.TLS
	if st == nil || len(st.VerifiedChains) == 0 || len(st.VerifiedChains[0]) == 0 {
		if f.anonymous != nil {
			identity.LetAnonymous(x, f.anonymous, nil)
			return nil
		}
		f.failures.missing.Add(1)
		return identity.Unauthorized("", "a verified client certificate is required")
	}
	cert := st.VerifiedChains[0][0]
	c := f.subjects[cert.Subject.String()]
	if c == nil {
		for _, n := range cert.DNSNames {
			if c = f.sans[n]; c != nil {
				break
			}
		}
	}
	if c == nil {
		for _, n := range cert.EmailAddresses {
			if c = f.sans[n]; c != nil {
				break
			}
		}
	}
	if c == nil {
		for _, u := range cert.URIs {
			if c = f.sans[u.String()]; c != nil {
				break
			}
		}
	}
	if c == nil {
		for _, ip := range cert.IPAddresses {
			if c = f.sans[ip.String()]; c != nil {
				break
			}
		}
	}
	if c == nil {
		f.failures.unknown.Add(1)
		return identity.Forbidden("", "the client certificate "+cert.Subject.String()+" is not mapped to a consumer")
	}
	if f.allowed != nil && !f.allowed[c.Name] {
		f.failures.forbidden.Add(1)
		return identity.Forbidden("", "consumer "+c.Name+" is not allowed on this route")
	}
	identity.Strip(x, nil)
	identity.Set(x, c)
	return nil
}

var (
	_ filter.Filter = (*Filter)(nil)
	_ filter.Config = (*Config)(nil)
)
