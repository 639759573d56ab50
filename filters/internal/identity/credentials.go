package identity

import "github.com/wasmgate/wasmgate/core/config"

// CheckIdentities validates a credential block that lists identities per
// consumer (consumers[].<key>: jwt's issuer/subject pairs, mtls's
// certificate names): each entry by invalid (a non-empty message refuses
// it), and no identity shared by two consumers, since the consumer it maps
// to would then depend on config order. shared words the refusal of a
// shared identity, given the identity and the consumer that has it.
func CheckIdentities[T comparable](v *config.Validator, key string, blocks []*[]T, invalid func(T) string, shared func(id T, owner string) string) {
	owners := map[T]string{}
	for i, ids := range blocks {
		if ids == nil {
			continue
		}
		name := v.Config().Consumers[i].Name
		for j, id := range *ids {
			p := config.JoinIndex(config.JoinIndex("consumers", i)+"."+key, j)
			if msg := invalid(id); msg != "" {
				v.Errorf(p, "%s", msg)
				continue
			}
			if other, dup := owners[id]; dup {
				v.Errorf(p, "%s", shared(id, other))
			}
			owners[id] = name
		}
	}
}
