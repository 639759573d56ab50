// Package mtls maps the verified client certificate of a mutual-TLS
// connection to a consumer, by subject or subject alternative name.
package mtls

import (
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/identity"
)

func init() {
	filter.Register("mtls", func() filter.Config { return new(Config) })
}

// Config is the `mtls:` block of a route's filters. Certificate identities
// belong to consumers (consumers[].mtls). The listener must verify client
// certificates (tls.client_ca); this filter only reads what it verified.
type Config struct {
	// Consumers, if set, are the only consumers allowed on the route.
	Consumers []string `yaml:"consumers"`
	// Anonymous, if set, is the declared consumer a request without a verified client certificate
	// goes as (X-Consumer-Anonymous: true); a certificate mapped to no consumer is still refused.
	Anonymous string `yaml:"anonymous"`
}

// Build indexes every consumer's certificate identities.
func (c *Config) Build(bc *filter.BuildContext) (filter.Filter, error) {
	a, err := identity.NewAuth(bc, identity.AuthConfig{Filter: "mtls", Consumers: c.Consumers, Anonymous: c.Anonymous})
	if err != nil {
		return nil, err
	}
	f := &Filter{
		anonymous: a.Anonymous,
		subjects:  map[string]*identity.Consumer{},
		sans:      map[string]*identity.Consumer{},
		allowed:   a.Allowed,
		failures:  newFailures(a),
	}
	tlsListener := false
	for _, l := range bc.Config.Listeners {
		tlsListener = tlsListener || (l.TLS != nil && l.TLS.ClientCA != "")
	}
	if !tlsListener {
		bc.Logger.Warn("no listener verifies client certificates (tls.client_ca), so every request on this route will be refused")
	}
	for i := range bc.Config.Consumers {
		cc := &bc.Config.Consumers[i]
		for _, id := range IdentitiesOf(cc) {
			if id.Subject != "" {
				f.subjects[id.Subject] = a.Consumers[cc.Name]
			} else {
				f.sans[id.SAN] = a.Consumers[cc.Name]
			}
		}
	}
	return f, nil
}
