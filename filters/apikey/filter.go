package apikey

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/url"
	"strings"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/identity"
)

// maxKeyLen bounds what is hashed: no real key is this long.
const maxKeyLen = 4096

// Filter checks API keys against the consumers' key hashes.
//
// Timing: the presented key is hashed first and the digest looked up, so
// whatever the lookup's timing reveals is about a SHA-256 digest, from
// which nothing about a valid key can be learned (finding a key whose
// digest shares a prefix with a valid key's is a preimage search). The
// final comparison of the digests is constant-time all the same.
type Filter struct {
	header    string // canonical
	query     string
	keep      bool
	allowed   map[string]bool // nil: every consumer
	keys      map[[sha256.Size]byte]*key
	challenge string
	failures  failures
	anonymous *identity.Consumer // nil: a request without a key is refused
	doc       filter.Requirement // for the portal (Requirement)
}

type key struct {
	hash     [sha256.Size]byte
	consumer *identity.Consumer
}

type failures struct {
	missing, invalid, ambiguous, forbidden *filter.Counter
}

func newFailures(a *identity.Auth) failures {
	return failures{
		missing:   a.Failure("missing"),
		invalid:   a.Failure("invalid"),
		ambiguous: a.Failure("ambiguous"),
		forbidden: a.Failure("forbidden"),
	}
}

// OnRequest authenticates the request. On success it costs one SHA-256 and
// one map lookup, and allocates nothing for a key sent in the header.
func (f *Filter) OnRequest(x *filter.Exchange) *filter.Response {
	r := x.Request
	var presented string
	vs := r.Header[f.header]
	switch {
	case len(vs) > 1:
		f.failures.ambiguous.Add(1)
		return identity.BadRequest(f.challenge, "more than one "+f.header+" header; send one API key")
	case len(vs) == 1:
		presented = vs[0]
	}
	fromQuery := false
	if f.query != "" {
		if v, n := queryValue(r.URL.RawQuery, f.query); n > 0 {
			if n > 1 || presented != "" {
				f.failures.ambiguous.Add(1)
				return identity.BadRequest(f.challenge, "the API key was given more than once (header and query, or a repeated parameter); send one")
			}
			presented, fromQuery = v, true
		}
	}
	if presented == "" {
		if f.anonymous != nil {
			identity.LetAnonymous(x, f.anonymous, nil)
			return nil
		}
		f.failures.missing.Add(1)
		return identity.Unauthorized(f.challenge, "an API key is required in the "+f.header+" header")
	}
	if len(presented) > maxKeyLen {
		f.failures.invalid.Add(1)
		return identity.Unauthorized(f.challenge, "invalid API key")
	}
	sum := identity.SumString(presented)
	k, ok := f.keys[sum]
	if !ok || subtle.ConstantTimeCompare(k.hash[:], sum[:]) != 1 {
		f.failures.invalid.Add(1)
		return identity.Unauthorized(f.challenge, "invalid API key")
	}
	if f.allowed != nil && !f.allowed[k.consumer.Name] {
		f.failures.forbidden.Add(1)
		return identity.Forbidden("", "consumer "+k.consumer.Name+" is not allowed on this route")
	}
	if !f.keep {
		if fromQuery {
			r.URL.RawQuery = withoutParam(r.URL.RawQuery, f.query)
		} else {
			delete(r.Header, f.header)
		}
	}
	identity.Strip(x, nil)
	identity.Set(x, k.consumer)
	return nil
}

// queryValue returns the (unescaped) value of name in a raw query and how
// many times name occurs. It allocates only to unescape.
func queryValue(raw, name string) (string, int) {
	var val string
	n := 0
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(pair, "=")
		if k != name {
			continue
		}
		n++
		if strings.ContainsAny(v, "%+") {
			u, err := url.QueryUnescape(v)
			if err != nil {
				continue
			}
			v = u
		}
		val = v
	}
	return val, n
}

// withoutParam removes every name=... pair from a raw query.
func withoutParam(raw, name string) string {
	var b strings.Builder
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if k, _, _ := strings.Cut(pair, "="); k == name {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(pair)
	}
	return b.String()
}

var (
	_ filter.Filter    = (*Filter)(nil)
	_ filter.Config    = (*Config)(nil)
	_ filter.Validator = (*Config)(nil)
)
