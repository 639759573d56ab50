package jwt

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/identity"
)

// Filter verifies tokens. The hot path (a cached token) is: find the token,
// hash it, one shard read-lock and map lookup, set the identity headers.
type Filter struct {
	parser *jwtlib.Parser
	algs   []string // accepted signing algorithms, checked by the keyfunc
	keys   keySource
	cache  *tokenCache // nil when disabled

	header       string // canonical; "" when not read
	bearer       bool   // header is Authorization, with the Bearer scheme
	cookie       string
	query        string
	maxToken     int
	forwardToken bool

	claims         []claimRule
	scopes         []string
	forward        []forwardRule
	strip          []string // canonical
	allowed        map[string]bool
	requireCons    bool
	consumers      map[string]*identity.Consumer
	mapped         consumerMap
	realm          string
	challenge      string
	scopeChallenge string
	failures       failures
	anonymous      *identity.Consumer // nil: a request without a token is refused
	doc            filter.Requirement // for the portal (Requirement)
}

// Claims returns the claims of the token the jwt filter verified for x, or
// nil. They are published under filter.ClaimsKey (as map[string]any) for
// the core and other filters. The map is shared between requests with the
// same token: read only.
func Claims(x *filter.Exchange) map[string]any {
	c, _ := x.Value(filter.ClaimsKey{}).(map[string]any)
	return c
}

// refusal is a failed check: the reason counted, the status and message.
type refusal struct {
	reason string
	status int
	code   string // RFC 6750 error code
	msg    string
}

// OnRequest authenticates the request.
func (f *Filter) OnRequest(x *filter.Exchange) *filter.Response {
	raw, where, bad := f.token(x.Request)
	if bad != nil {
		return f.refuse(bad)
	}
	if raw == "" {
		if f.anonymous != nil {
			identity.LetAnonymous(x, f.anonymous, f.strip)
			return nil
		}
		f.failures.count("missing")
		return identity.Unauthorized(f.challenge, "a bearer token is required")
	}
	var v *verified
	var sum [32]byte
	if f.cache != nil {
		sum = identity.SumString(raw)
		if ks := f.keys.current(); ks != nil {
			v = f.cache.get(sum, time.Now().UnixNano(), ks.gen)
		}
	}
	if v == nil {
		var r *refusal
		if v, r = f.verify(x.Request.Context(), raw, sum); r != nil {
			return f.refuse(r)
		}
	}
	identity.Strip(x, f.strip)
	h := x.Request.Header
	for _, ch := range v.headers {
		h[ch.name] = ch.value
	}
	identity.Set(x, v.consumer)
	x.Set(filter.ClaimsKey{}, v.claims)
	if !f.forwardToken {
		f.removeToken(x.Request, where)
	}
	return nil
}

type place uint8

const (
	inHeader place = iota + 1
	inCookie
	inQuery
)

// token finds the token. More than one place (or header) holding one is
// refused, as Kong does: two tokens invite checking one and using another.
func (f *Filter) token(r *http.Request) (string, place, *refusal) {
	var raw string
	var where place
	found := 0
	if f.header != "" {
		if vs := r.Header[f.header]; len(vs) > 0 {
			if len(vs) > 1 {
				return "", 0, &refusal{"ambiguous", http.StatusBadRequest, identity.InvalidRequest, "more than one " + f.header + " header"}
			}
			if len(vs[0]) > f.maxToken {
				return "", 0, &refusal{"too_large", http.StatusUnauthorized, identity.InvalidToken, "the token is larger than " + strconv.Itoa(f.maxToken) + " bytes"}
			}
			v := vs[0]
			if f.bearer {
				v, _ = identity.HasScheme(v, "Bearer")
			}
			if v != "" {
				raw, where, found = v, inHeader, found+1
			}
		}
	}
	if f.cookie != "" {
		for _, c := range r.CookiesNamed(f.cookie) {
			raw, where, found = c.Value, inCookie, found+1
		}
	}
	if f.query != "" && r.URL.RawQuery != "" {
		if vs := r.URL.Query()[f.query]; len(vs) > 0 {
			raw, where, found = vs[0], inQuery, found+len(vs)
		}
	}
	switch {
	case found > 1:
		return "", 0, &refusal{"ambiguous", http.StatusBadRequest, identity.InvalidRequest, "the token was given more than once; send exactly one"}
	case len(raw) > f.maxToken:
		return "", 0, &refusal{"too_large", http.StatusUnauthorized, identity.InvalidToken, "the token is larger than " + strconv.Itoa(f.maxToken) + " bytes"}
	}
	return raw, where, nil
}

// verify makes the full check and caches what it produced.
func (f *Filter) verify(ctx context.Context, raw string, sum [32]byte) (*verified, *refusal) {
	var gen uint64
	keyfunc := func(t *jwtlib.Token) (any, error) {
		alg := t.Method.Alg()
		if !slices.Contains(f.algs, alg) {
			return nil, errAlgNotAllowed
		}
		if _, ok := t.Header["crit"]; ok {
			// RFC 7515 §4.1.11: extensions we do not understand must fail.
			return nil, errCrit
		}
		kid, _ := t.Header["kid"].(string)
		ks := f.keys.current()
		var cands []*key
		known := false
		if ks != nil {
			cands, known = ks.candidates(kid, alg)
		}
		if !known {
			f.keys.refresh(ctx)
			if ks = f.keys.current(); ks == nil {
				return nil, errNoKeys
			}
			if cands, known = ks.candidates(kid, alg); !known {
				return nil, errUnknownKid
			}
		}
		if len(cands) == 0 {
			return nil, errNoCompatibleKey
		}
		gen = ks.gen
		if len(cands) == 1 {
			return cands[0].pub, nil
		}
		set := jwtlib.VerificationKeySet{Keys: make([]jwtlib.VerificationKey, len(cands))}
		for i, k := range cands {
			set.Keys[i] = k.pub
		}
		return set, nil
	}
	claims := jwtlib.MapClaims{}
	if _, err := f.parser.ParseWithClaims(raw, claims, keyfunc); err != nil {
		return nil, classify(err)
	}
	for _, rule := range f.claims {
		if !claimHas(claims[rule.name], rule.values) {
			return nil, &refusal{"claim_mismatch", http.StatusForbidden, identity.InsufficientScope, "the token's " + rule.name + " claim does not allow this route"}
		}
	}
	if len(f.scopes) > 0 {
		granted := scopesOf(claims)
		for _, s := range f.scopes {
			if !granted[s] {
				return nil, &refusal{"insufficient_scope", http.StatusForbidden, identity.InsufficientScope, "the token lacks the scope " + s}
			}
		}
	}
	consumer, r := f.consumer(claims)
	if r != nil {
		return nil, r
	}
	v := &verified{gen: gen, consumer: consumer, claims: claims}
	for _, fw := range f.forward {
		if s, ok := claimString(claims[fw.claim]); ok {
			v.headers = append(v.headers, claimHeader{name: fw.header, value: []string{s}[:1:1]})
		}
	}
	if f.cache != nil {
		var exp time.Time
		if e, err := claims.GetExpirationTime(); err == nil && e != nil {
			exp = e.Time
		}
		f.cache.put(sum, v, exp, time.Now())
	}
	return v, nil
}

// consumer maps a verified token to a consumer: issuer and subject, then
// subject, then issuer; else, unless a consumer is required, a consumer
// named after the subject that no config entry defines.
func (f *Filter) consumer(claims jwtlib.MapClaims) (*identity.Consumer, *refusal) {
	iss, _ := claims["iss"].(string)
	sub, _ := claims["sub"].(string)
	c := f.mapped.lookup(iss, sub)
	switch {
	case c != nil:
	case f.requireCons:
		return nil, &refusal{"unknown_consumer", http.StatusForbidden, "", "the token's subject is not a known consumer"}
	case sub == "":
		return nil, &refusal{"no_subject", http.StatusUnauthorized, identity.InvalidToken, "the token has no sub claim to name its consumer"}
	case f.consumers[sub] != nil:
		// A token must not borrow a configured consumer's name (and its
		// tier, limits, metadata) without that consumer's jwt mapping.
		return nil, &refusal{"unknown_consumer", http.StatusForbidden, "", "the token's subject names a consumer it is not mapped to"}
	default:
		c = identity.NewConsumer(sub, nil, false)
	}
	if f.allowed != nil && !f.allowed[c.Name] {
		return nil, &refusal{"forbidden", http.StatusForbidden, "", "consumer " + c.Name + " is not allowed on this route"}
	}
	return c, nil
}

var (
	errAlgNotAllowed   = errors.New("the token's algorithm is not accepted")
	errCrit            = errors.New("the token has critical header parameters (crit) this gateway does not understand")
	errNoKeys          = errors.New("no verification keys are available yet")
	errUnknownKid      = errors.New("the token's kid names no known key")
	errNoCompatibleKey = errors.New("no key of the token's kid fits its algorithm")
)

// classify turns a golang-jwt error into a counted reason and a message.
func classify(err error) *refusal {
	r := &refusal{status: http.StatusUnauthorized, code: identity.InvalidToken}
	switch {
	case errors.Is(err, errUnknownKid):
		r.reason, r.msg = "unknown_kid", "the token was signed with an unknown key"
	case errors.Is(err, errNoCompatibleKey):
		r.reason, r.msg = "wrong_key_type", "the token's algorithm does not fit its key"
	case errors.Is(err, errNoKeys):
		r.reason, r.msg = "no_keys", "the token cannot be verified right now: no keys"
	case errors.Is(err, errCrit):
		r.reason, r.msg = "crit", errCrit.Error()
	case errors.Is(err, jwtlib.ErrTokenMalformed):
		r.reason, r.msg = "malformed", "the token is malformed"
	case errors.Is(err, errAlgNotAllowed), errors.Is(err, jwtlib.ErrTokenUnverifiable): // an alg golang-jwt does not know
		r.reason, r.msg = "alg_not_allowed", errAlgNotAllowed.Error()
	case errors.Is(err, jwtlib.ErrTokenSignatureInvalid):
		r.reason, r.msg = "bad_signature", "the token's signature is invalid"
	case errors.Is(err, jwtlib.ErrTokenRequiredClaimMissing):
		r.reason, r.msg = "missing_claim", "the token lacks a required claim (exp, iss or aud)"
	case errors.Is(err, jwtlib.ErrTokenExpired):
		r.reason, r.msg = "expired", "the token has expired"
	case errors.Is(err, jwtlib.ErrTokenNotValidYet):
		r.reason, r.msg = "not_yet_valid", "the token is not valid yet (nbf)"
	case errors.Is(err, jwtlib.ErrTokenUsedBeforeIssued):
		r.reason, r.msg = "issued_in_future", "the token was issued in the future (iat)"
	case errors.Is(err, jwtlib.ErrTokenInvalidIssuer):
		r.reason, r.msg = "wrong_issuer", "the token's issuer is not accepted"
	case errors.Is(err, jwtlib.ErrTokenInvalidAudience):
		r.reason, r.msg = "wrong_audience", "the token's audience is not accepted"
	default:
		r.reason, r.msg = "invalid", "the token is invalid"
	}
	return r
}

func (f *Filter) refuse(r *refusal) *filter.Response {
	f.failures.count(r.reason)
	switch r.status {
	case http.StatusBadRequest:
		return identity.BadRequest(identity.Challenge("Bearer", f.realm, "error", r.code, "error_description", r.msg), r.msg)
	case http.StatusForbidden:
		if r.code == identity.InsufficientScope && f.scopeChallenge != "" && r.reason == "insufficient_scope" {
			return identity.Forbidden(f.scopeChallenge, r.msg)
		}
		if r.code != "" {
			return identity.Forbidden(identity.Challenge("Bearer", f.realm, "error", r.code, "error_description", r.msg), r.msg)
		}
		return identity.Forbidden("", r.msg)
	}
	return identity.Unauthorized(identity.Challenge("Bearer", f.realm, "error", r.code, "error_description", r.msg), r.msg)
}

func (f *Filter) removeToken(r *http.Request, where place) {
	switch where {
	case inHeader:
		delete(r.Header, f.header)
	case inQuery:
		q := r.URL.Query()
		q.Del(f.query)
		r.URL.RawQuery = q.Encode()
	case inCookie:
		cookies := r.Cookies()
		r.Header.Del("Cookie")
		for _, c := range cookies {
			if c.Name != f.cookie {
				r.AddCookie(c)
			}
		}
	}
}

// claimHas reports whether a claim is one of values (string, number or
// bool claim) or holds one of them (array claim).
func claimHas(claim any, values []string) bool {
	if arr, ok := claim.([]any); ok {
		for _, e := range arr {
			if claimHas(e, values) {
				return true
			}
		}
		return false
	}
	s, ok := claimString(claim)
	if !ok {
		return false
	}
	for _, v := range values {
		if s == v {
			return true
		}
	}
	return false
}

// scopesOf collects the granted scopes: "scope" (RFC 8693 §4.2, space
// separated) and "scp" (a string or an array, as some issuers send).
func scopesOf(claims jwtlib.MapClaims) map[string]bool {
	out := map[string]bool{}
	for _, name := range []string{"scope", "scp"} {
		switch v := claims[name].(type) {
		case string:
			for _, s := range strings.Fields(v) {
				out[s] = true
			}
		case []any:
			for _, e := range v {
				if s, ok := e.(string); ok {
					out[s] = true
				}
			}
		}
	}
	return out
}

// claimString renders a claim as a header value: strings as they are,
// numbers and booleans as JSON writes them, arrays of those joined with
// ",", anything else as JSON. A value a header cannot carry (control
// characters) is not forwarded.
func claimString(v any) (string, bool) {
	var s string
	switch t := v.(type) {
	case nil:
		return "", false
	case string:
		s = t
	case float64:
		s = strconv.FormatFloat(t, 'f', -1, 64)
	case bool:
		s = strconv.FormatBool(t)
	case []any:
		parts := make([]string, 0, len(t))
		for _, e := range t {
			p, ok := claimString(e)
			if !ok {
				return "", false
			}
			parts = append(parts, p)
		}
		s = strings.Join(parts, ",")
	default:
		b, err := json.Marshal(t)
		if err != nil {
			return "", false
		}
		s = string(b)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return "", false
		}
	}
	return s, true
}

type failures struct {
	byReason map[string]*filter.Counter
}

var reasons = []string{
	"missing", "ambiguous", "too_large", "malformed", "alg_not_allowed", "bad_signature",
	"unknown_kid", "wrong_key_type", "no_keys", "crit", "missing_claim", "expired",
	"not_yet_valid", "issued_in_future", "wrong_issuer", "wrong_audience", "invalid",
	"claim_mismatch", "insufficient_scope", "unknown_consumer", "no_subject", "forbidden",
}

func newFailures(a *identity.Auth) failures {
	f := failures{byReason: make(map[string]*filter.Counter, len(reasons))}
	for _, r := range reasons {
		f.byReason[r] = a.Failure(r)
	}
	return f
}

func (f failures) count(reason string) {
	if c := f.byReason[reason]; c != nil {
		c.Add(1)
	}
}

var (
	_ filter.Filter    = (*Filter)(nil)
	_ filter.Config    = (*Config)(nil)
	_ filter.Validator = (*Config)(nil)
)
