package jwt

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/filters/internal/identity"
)

// Which tokens identify which consumer is the consumers' to say:
// consumers[].jwt is this package's credential block.

func init() {
	config.RegisterCredential("jwt", checkIdentities)
}

// Identity maps verified tokens to a consumer: a token matches when its
// iss equals Issuer (if given) and its sub equals Subject (if given). At
// least one is required; the most specific match wins (issuer and subject,
// then subject alone, then issuer alone).
type Identity struct {
	Issuer  string `yaml:"issuer"`  // the token's iss
	Subject string `yaml:"subject"` // the token's sub
}

// IdentitiesOf returns the consumer's token identities.
func IdentitiesOf(c *config.Consumer) []Identity {
	if ids := config.Credential[[]Identity](c, "jwt"); ids != nil {
		return *ids
	}
	return nil
}

// checkIdentities refuses an empty identity, and one two consumers share.
func checkIdentities(v *config.Validator, blocks []*[]Identity) {
	identity.CheckIdentities(v, "jwt", blocks, func(id Identity) string {
		if id.Issuer == "" && id.Subject == "" {
			return "give an issuer, a subject or both: the token claims (iss, sub) that identify this consumer"
		}
		return ""
	}, func(id Identity, owner string) string {
		return fmt.Sprintf("issuer %q and subject %q already map to consumer %q", id.Issuer, id.Subject, owner)
	})
}

// writeConsumers writes what a cached verification depends on of cfg's
// consumers (names, metadata, token identities) to w, for the token
// cache's key.
func writeConsumers(w io.Writer, cfg *config.Config) {
	enc := json.NewEncoder(w)
	for i := range cfg.Consumers {
		cc := &cfg.Consumers[i]
		_ = enc.Encode(cc)
		_ = enc.Encode(IdentitiesOf(cc))
	}
}

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
	for i := range cfg.Consumers {
		cc := &cfg.Consumers[i]
		for _, id := range IdentitiesOf(cc) {
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
