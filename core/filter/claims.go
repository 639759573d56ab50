package filter

import (
	"strconv"
)

// ClaimsKey is the exchange key under which an authentication filter (jwt)
// publishes the verified token's claims, as a map[string]any:
//
//	x.Set(filter.ClaimsKey{}, claims)
//
// so the core ({claim.NAME} templates, aggregate calls) and other filters
// read them without importing the filter that verified them.
type ClaimsKey struct{}

// Claim returns a top-level claim of x's verified token as text: strings as
// they are, numbers and booleans as JSON writes them. ok is false when there
// are no claims, no such claim, or it is an object, list or null.
func Claim(x *Exchange, name string) (string, bool) {
	claims, _ := x.Value(ClaimsKey{}).(map[string]any)
	switch v := claims[name].(type) {
	case string:
		return v, true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case int:
		return strconv.Itoa(v), true
	case bool:
		return strconv.FormatBool(v), true
	case interface{ String() string }: // json.Number
		return v.String(), true
	}
	return "", false
}
