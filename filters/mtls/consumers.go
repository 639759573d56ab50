package mtls

import "github.com/wasmgate/wasmgate/core/config"

// Which certificates identify which consumer is the consumers' to say:
// consumers[].mtls is this package's credential block.

func init() {
	config.RegisterCredential("mtls", checkIdentities)
}

// Identity maps a verified client certificate to a consumer, by its
// subject distinguished name as Go prints it ("CN=billing,O=Example") or by
// one of its subject alternative names (DNS name, email, URI or IP).
// Exactly one of the two is given.
type Identity struct {
	Subject string `yaml:"subject"`
	SAN     string `yaml:"san"`
}

// IdentitiesOf returns the consumer's certificate identities.
func IdentitiesOf(c *config.Consumer) []Identity {
	if ids := config.Credential[[]Identity](c, "mtls"); ids != nil {
		return *ids
	}
	return nil
}

// checkIdentities refuses an identity two consumers share: the consumer a
// certificate maps to would depend on config order.
func checkIdentities(v *config.Validator, blocks []*[]Identity) {
	owners := map[Identity]string{}
	for i, ids := range blocks {
		if ids == nil {
			continue
		}
		name := v.Config().Consumers[i].Name
		for j, id := range *ids {
			p := config.JoinIndex(config.JoinIndex("consumers", i)+".mtls", j)
			if (id.Subject == "") == (id.SAN == "") {
				v.Errorf(p, `give exactly one of subject (a distinguished name like "CN=billing,O=Example") or san (a DNS name, email, URI or IP of the certificate)`)
				continue
			}
			if other, dup := owners[id]; dup {
				v.Errorf(p, "this certificate identity already maps to consumer %q", other)
			}
			owners[id] = name
		}
	}
}
