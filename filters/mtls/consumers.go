package mtls

import (
	"fmt"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/filters/internal/identity"
)

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
	Subject string `yaml:"subject"` // the subject DN, e.g. "CN=billing,O=Example"
	SAN     string `yaml:"san"`     // a DNS name, email, URI or IP of the certificate
}

// IdentitiesOf returns the consumer's certificate identities.
func IdentitiesOf(c *config.Consumer) []Identity {
	if ids := config.Credential[[]Identity](c, "mtls"); ids != nil {
		return *ids
	}
	return nil
}

// checkIdentities refuses an identity that is not exactly one of subject
// and san, and one two consumers share.
func checkIdentities(v *config.Validator, blocks []*[]Identity) {
	identity.CheckIdentities(v, "mtls", blocks, func(id Identity) string {
		if (id.Subject == "") == (id.SAN == "") {
			return `give exactly one of subject (a distinguished name like "CN=billing,O=Example") or san (a DNS name, email, URI or IP of the certificate)`
		}
		return ""
	}, func(_ Identity, owner string) string {
		return fmt.Sprintf("this certificate identity already maps to consumer %q", owner)
	})
}
