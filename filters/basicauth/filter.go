package basicauth

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/crypto/bcrypt"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/identity"
)

// maxCredentials bounds the decoded "user:password" accepted.
const maxCredentials = 1024

// Filter checks Basic credentials.
type Filter struct {
	users     map[string]*user
	dummy     []byte // a bcrypt hash checked for unknown users
	allowed   map[string]bool
	keep      bool
	challenge string
	cache     *cache // nil when disabled
	failures  failures
	anonymous *identity.Consumer // nil: a request without credentials is refused
	doc       filter.Requirement // for the portal (Requirement)
}

type user struct {
	hash     []byte
	consumer *identity.Consumer
}

type failures struct {
	missing, malformed, invalid, forbidden *filter.Counter
}

func newFailures(a *identity.Auth) failures {
	return failures{
		missing:   a.Failure("missing"),
		malformed: a.Failure("malformed"),
		invalid:   a.Failure("invalid"),
		forbidden: a.Failure("forbidden"),
	}
}

// OnRequest authenticates the request.
func (f *Filter) OnRequest(x *filter.Exchange) *filter.Response {
	h := x.Request.Header
	vs := h["Authorization"]
	if len(vs) > 1 {
		f.failures.malformed.Add(1)
		return identity.BadRequest(f.challenge, "more than one Authorization header")
	}
	var enc string
	if len(vs) == 1 {
		enc, _ = identity.HasScheme(vs[0], "Basic")
	}
	if enc == "" {
		if f.anonymous != nil {
			identity.LetAnonymous(x, f.anonymous, nil)
			return nil
		}
		f.failures.missing.Add(1)
		return identity.Unauthorized(f.challenge, "basic authentication is required")
	}
	// [salt][user:password], decoded on the stack.
	var buf [sha256.Size + maxCredentials]byte
	if base64.StdEncoding.DecodedLen(len(enc)) > maxCredentials {
		f.failures.malformed.Add(1)
		return identity.Unauthorized(f.challenge, "malformed basic credentials")
	}
	n, err := base64.StdEncoding.Decode(buf[sha256.Size:], unsafe.Slice(unsafe.StringData(enc), len(enc)))
	if err != nil {
		f.failures.malformed.Add(1)
		return identity.Unauthorized(f.challenge, "malformed basic credentials")
	}
	cred := buf[sha256.Size : sha256.Size+n]
	colon := bytes.IndexByte(cred, ':')
	if colon < 0 {
		f.failures.malformed.Add(1)
		return identity.Unauthorized(f.challenge, "malformed basic credentials")
	}

	var c *identity.Consumer
	var key [32]byte
	if f.cache != nil {
		copy(buf[:sha256.Size], f.cache.salt[:])
		key = sha256.Sum256(buf[:sha256.Size+n])
		c = f.cache.get(key)
	}
	if c == nil {
		u, known := f.users[string(cred[:colon])]
		hash := f.dummy
		if known {
			hash = u.hash
		}
		ok := compareHash(hash, cred[colon+1:]) == nil
		if !known || !ok {
			f.failures.invalid.Add(1)
			return identity.Unauthorized(f.challenge, "invalid username or password")
		}
		c = u.consumer
		if f.cache != nil {
			f.cache.put(key, c)
		}
	}
	clear(buf[:]) // the password
	if f.allowed != nil && !f.allowed[c.Name] {
		f.failures.forbidden.Add(1)
		return identity.Forbidden("", "consumer "+c.Name+" is not allowed on this route")
	}
	if !f.keep {
		delete(h, "Authorization")
	}
	identity.Strip(x, nil)
	identity.Set(x, c)
	return nil
}

// compareHash is bcrypt's check; tests count its calls.
var compareHash = bcrypt.CompareHashAndPassword

// cache remembers credentials that passed bcrypt, by a salted SHA-256 of
// "user:password" (the salt is random per filter instance, so the digests
// are useless outside this process). Only successes are cached: a wrong
// password never matches a key. A reload builds a new filter and so a new,
// empty cache, so a changed or removed password stops working at once.
type cache struct {
	salt [sha256.Size]byte
	ttl  time.Duration
	max  int
	mu   sync.RWMutex
	m    map[[32]byte]cached
}

type cached struct {
	consumer *identity.Consumer
	expires  int64 // unix nanoseconds
}

func (c *cache) get(k [32]byte) *identity.Consumer {
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || time.Now().UnixNano() >= e.expires {
		return nil
	}
	return e.consumer
}

func (c *cache) put(k [32]byte, consumer *identity.Consumer) {
	now := time.Now().UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for key, e := range c.m {
			if now >= e.expires {
				delete(c.m, key)
			}
		}
		// Still full: drop arbitrary entries (map order is random), which
		// only costs their owners one more bcrypt check.
		for key := range c.m {
			if len(c.m) < c.max {
				break
			}
			delete(c.m, key)
		}
	}
	c.m[k] = cached{consumer: consumer, expires: now + int64(c.ttl)}
}

var (
	_ filter.Filter    = (*Filter)(nil)
	_ filter.Config    = (*Config)(nil)
	_ filter.Validator = (*Config)(nil)
)
