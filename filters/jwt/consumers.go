package jwt

import (
	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/filters/internal/identity"
)

// consumerMap finds the declared consumer of a verified token from the
// consumers' jwt: entries, by issuer and subject, subject, or issuer.
type consumerMap struct {
	byIssSub map[[2]string]*identity.Consumer
	bySub    map[string]*identity.Consumer
	byIss    map[string]*identity.Consumer
}

// newConsumerMap indexes the jwt: entries of cfg's consumers; index is the
// consumers by name (identity.Auth.Consumers).
func newConsumerMap(cfg *config.Config, index map[string]*identity.Consumer) consumerMap {
	m := consumerMap{
		byIssSub: map[[2]string]*identity.Consumer{},
		bySub:    map[string]*identity.Consumer{},
		byIss:    map[string]*identity.Consumer{},
	}
	for _, cc := range cfg.Consumers {
		for _, id := range cc.JWT {
			switch {
			case id.Issuer != "" && id.Subject != "":
				m.byIssSub[[2]string{id.Issuer, id.Subject}] = index[cc.Name]
			case id.Subject != "":
				m.bySub[id.Subject] = index[cc.Name]
			default:
				m.byIss[id.Issuer] = index[cc.Name]
			}
		}
	}
	return m
}

// lookup returns the consumer the most specific entry maps iss and sub to:
// issuer and subject, then subject, then issuer; nil when none does.
func (m *consumerMap) lookup(iss, sub string) *identity.Consumer {
	c := m.byIssSub[[2]string{iss, sub}]
	if c == nil && sub != "" {
		c = m.bySub[sub]
	}
	if c == nil && iss != "" {
		c = m.byIss[iss]
	}
	return c
}
