package jwt

import (
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/wasmgate/wasmgate/filters/internal/identity"
)

type claimRule struct {
	name   string
	values []string
}

type forwardRule struct{ claim, header string }

// claimRules compiles the claims a token must hold and the claims sent on
// as headers, in claim-name order so the first rule a token breaks is the
// same on every request. strip is the client headers removed before the
// forwarded ones are set: those, then strip_headers.
func (c *Config) claimRules() (claims []claimRule, forward []forwardRule, strip []string) {
	for _, n := range slices.Sorted(maps.Keys(c.Claims)) {
		claims = append(claims, claimRule{name: n, values: c.Claims[n]})
	}
	for _, n := range slices.Sorted(maps.Keys(c.ForwardClaims)) {
		h := http.CanonicalHeaderKey(c.ForwardClaims[n])
		forward = append(forward, forwardRule{claim: n, header: h})
		strip = append(strip, h)
	}
	return claims, forward, append(strip, identity.CanonicalNames(c.StripHeaders)...)
}

// scopeChallenge is the WWW-Authenticate of a 403 for a missing scope,
// naming every scope the route requires; "" when it requires none.
func (c *Config) scopeChallenge(realm string) string {
	if len(c.Scopes) == 0 {
		return ""
	}
	return identity.Challenge("Bearer", realm, "error", identity.InsufficientScope, "scope", strings.Join(c.Scopes, " "))
}
