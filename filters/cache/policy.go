package cache

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The RFC 9111 rules for a shared cache, as pure functions of headers and
// times, so the behaviour table tests them without a clock.

// directives is a parsed Cache-Control field (RFC 9111 §5.2). Durations
// are -1 when absent.
type directives struct {
	maxAge, sMaxAge, staleWhileRevalidate, staleIfError time.Duration
	maxStale, minFresh                                  time.Duration
	anyMaxStale                                         bool // max-stale without a value
	noStore, noCache, private, public, mustRevalidate   bool
	proxyRevalidate, onlyIfCached, noTransform          bool
}

// parseCacheControl reads every Cache-Control line of h. Directive names
// are case-insensitive; a duplicate or invalid delta-seconds makes the
// directive count as the most conservative reading (§4.2.1: an invalid
// max-age is stale).
func parseCacheControl(h http.Header) directives {
	d := directives{maxAge: -1, sMaxAge: -1, staleWhileRevalidate: -1, staleIfError: -1, maxStale: -1, minFresh: -1}
	for _, line := range h["Cache-Control"] {
		for line != "" {
			var item string
			item, line = nextItem(line)
			name, value, _ := strings.Cut(item, "=")
			name = strings.ToLower(strings.TrimSpace(name))
			value = strings.Trim(strings.TrimSpace(value), `"`)
			switch name {
			case "max-age":
				d.maxAge = deltaSeconds(value, d.maxAge)
			case "s-maxage":
				d.sMaxAge = deltaSeconds(value, d.sMaxAge)
			case "stale-while-revalidate":
				d.staleWhileRevalidate = deltaSeconds(value, d.staleWhileRevalidate)
			case "stale-if-error":
				d.staleIfError = deltaSeconds(value, d.staleIfError)
			case "max-stale":
				if value == "" {
					d.anyMaxStale = true
				} else {
					d.maxStale = deltaSeconds(value, d.maxStale)
				}
			case "min-fresh":
				d.minFresh = deltaSeconds(value, d.minFresh)
			case "no-store":
				d.noStore = true
			case "no-cache":
				// The qualified form (no-cache="Set-Cookie") allows reuse
				// without those fields; we read it as unqualified, the
				// conservative choice §5.2.2.4 allows.
				d.noCache = true
			case "private":
				d.private = true // qualified or not: a shared cache stores neither
			case "public":
				d.public = true
			case "must-revalidate":
				d.mustRevalidate = true
			case "proxy-revalidate":
				d.proxyRevalidate = true
			case "only-if-cached":
				d.onlyIfCached = true
			case "no-transform":
				d.noTransform = true
			}
		}
	}
	return d
}

// nextItem splits off one comma-separated item, honouring quoted strings
// (private="a, b" is one item).
func nextItem(s string) (item, rest string) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case '\\':
			if quoted {
				i++
			}
		case ',':
			if !quoted {
				return s[:i], s[i+1:]
			}
		}
	}
	return s, ""
}

// deltaSeconds parses delta-seconds (§1.2.2). A second occurrence or an
// invalid value yields 0: stale, the reading §4.2.1 asks for.
func deltaSeconds(v string, prev time.Duration) time.Duration {
	if prev >= 0 {
		return 0
	}
	n, err := strconv.ParseUint(v, 10, 63)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return maxDelta
		}
		return 0
	}
	if n > uint64(maxDelta/time.Second) {
		return maxDelta
	}
	return time.Duration(n) * time.Second
}

// maxDelta is 2^31 seconds, the greatest delta-seconds §1.2.2 asks a cache
// to handle.
const maxDelta = time.Duration(1<<31) * time.Second

// heuristicStatus reports the statuses that are heuristically cacheable
// (RFC 9110 §15.1), less 206: partial content is never stored here.
func heuristicStatus(status int) bool {
	switch status {
	case 200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// understoodStatus reports the final statuses this cache may store with
// explicit freshness: every final status but 206 (no range support) and
// 304 (which only refreshes an entry).
func understoodStatus(status int) bool {
	return status >= 200 && status < 600 && status != 206 && status != 304
}

// freshness is what a response says about its own reuse.
type freshness struct {
	lifetime time.Duration // §4.2.1; 0 when stale on arrival
	explicit bool          // lifetime came from s-maxage, max-age or Expires
	swr, sie time.Duration // stale-while-revalidate, stale-if-error; 0 if none
	// revalidate: once stale, it is never served without the upstream's
	// say (must-revalidate, proxy-revalidate, s-maxage: §5.2.2.2, 8, 10).
	revalidate bool
}

// freshnessOf computes a response's freshness lifetime (§4.2.1):
// s-maxage, else max-age, else Expires minus Date, else the heuristic
// (defaultTTL, only for heuristically cacheable statuses). no-cache makes
// it 0: stored, but validated before every use.
func freshnessOf(status int, h http.Header, cc directives, date time.Time, defaultTTL time.Duration) freshness {
	f := freshness{revalidate: cc.mustRevalidate || cc.proxyRevalidate || cc.sMaxAge >= 0}
	switch {
	case cc.sMaxAge >= 0:
		f.lifetime, f.explicit = cc.sMaxAge, true
	case cc.maxAge >= 0:
		f.lifetime, f.explicit = cc.maxAge, true
	case h["Expires"] != nil:
		f.explicit = true
		// An invalid Expires (e.g. "0") means already expired (§5.3).
		if exp, err := http.ParseTime(h.Get("Expires")); err == nil && exp.After(date) {
			f.lifetime = exp.Sub(date)
		}
	case heuristicStatus(status):
		f.lifetime = defaultTTL
	}
	if cc.noCache {
		f.lifetime = 0
	}
	if !f.revalidate {
		f.swr = max(cc.staleWhileRevalidate, 0)
		f.sie = max(cc.staleIfError, 0)
	}
	return f
}

// storeRules are the route's choices that bear on storing.
type storeRules struct {
	defaultTTL     time.Duration
	storeSetCookie bool
	byConsumer     bool // the key holds the consumer: Authorization is no bar
}

// refusal says why a response is not stored ("" when it is).
type refusal string

const (
	storable        refusal = ""
	refuseNoStore   refusal = "no-store"
	refusePrivate   refusal = "private"
	refuseAuth      refusal = "authorization"
	refuseSetCookie refusal = "set-cookie"
	refuseVaryStar  refusal = "vary-star"
	refuseStatus    refusal = "status"
	refuseUseless   refusal = "no-freshness-or-validator"
)

// storability decides whether a response to req may be stored (§3),
// given the parsed directives of both.
func storability(req *http.Request, reqCC directives, status int, h http.Header, cc directives, f freshness, rules storeRules) refusal {
	switch {
	case reqCC.noStore || cc.noStore:
		return refuseNoStore
	case cc.private:
		return refusePrivate
	case !understoodStatus(status):
		return refuseStatus
	case !f.explicit && !heuristicStatus(status) && !cc.public:
		return refuseStatus
	}
	// §3.5: a shared cache stores a response to a request with
	// Authorization only when the response says it may; Cookie is held to
	// the same rule, since a response to it is as likely personal.
	if !rules.byConsumer && (req.Header["Authorization"] != nil || req.Header["Cookie"] != nil) &&
		!cc.public && cc.sMaxAge < 0 && !cc.mustRevalidate {
		return refuseAuth
	}
	if h["Set-Cookie"] != nil && !rules.storeSetCookie {
		return refuseSetCookie
	}
	for _, v := range h["Vary"] {
		if strings.Contains(v, "*") {
			return refuseVaryStar
		}
	}
	if f.lifetime == 0 && f.sie == 0 && h["Etag"] == nil && h["Last-Modified"] == nil {
		return refuseUseless // stale on arrival and nothing to revalidate with
	}
	return storable
}

// initialAge is the corrected initial age of §4.2.3: the age the response
// had when it arrived, from its Age and Date and the time the request took.
func initialAge(h http.Header, date, requestTime, responseTime time.Time) time.Duration {
	apparent := max(responseTime.Sub(date), 0)
	var ageValue time.Duration
	if v := h.Get("Age"); v != "" {
		ageValue = max(deltaSeconds(strings.TrimSpace(v), -1), 0)
	}
	corrected := ageValue + responseTime.Sub(requestTime)
	return max(apparent, corrected)
}

// dateOf is the response's Date, or the time it arrived when it has none
// or an invalid one (§5.6.7 of RFC 9110: a recipient with a clock adds one).
func dateOf(h http.Header, responseTime time.Time) time.Time {
	if v := h.Get("Date"); v != "" {
		if d, err := http.ParseTime(v); err == nil {
			return d
		}
	}
	return responseTime
}

// hopByHop are the fields never stored (RFC 9110 §7.6.1) and those the
// cache sets itself on every answer.
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Proxy-Authenticate", "Proxy-Authorization", "Age", "Cache-Status", "X-Cache"}

// storedHeader is the header an entry keeps of h.
func storedHeader(h http.Header, dropSetCookie bool) http.Header {
	out := h.Clone()
	for _, name := range hopByHop {
		delete(out, name)
	}
	for _, v := range h["Connection"] {
		for _, name := range strings.Split(v, ",") {
			delete(out, http.CanonicalHeaderKey(strings.TrimSpace(name)))
		}
	}
	if dropSetCookie {
		delete(out, "Set-Cookie")
	}
	return out
}

// refreshHeader updates a stored header with a 304's fields (§4.3.4):
// every field the 304 carries replaces the stored one, except the framing
// and those §3.2 excludes.
func refreshHeader(stored, notModified http.Header) http.Header {
	out := stored.Clone()
	for k, v := range notModified {
		switch k {
		case "Content-Length", "Content-Encoding", "Content-Range", "Content-Type", "Set-Cookie":
			continue
		}
		if skip(k) {
			continue
		}
		out[k] = append([]string(nil), v...)
	}
	return out
}

func skip(name string) bool {
	for _, h := range hopByHop {
		if h == name {
			return true
		}
	}
	return false
}

// notModified evaluates a request's conditionals against an entry (RFC
// 9110 §13.2.2): If-None-Match, then If-Modified-Since when there is no
// If-None-Match. It reports whether a 304 answers the request.
func notModified(req http.Header, etag, lastModified string) bool {
	if inm := req["If-None-Match"]; inm != nil {
		if etag == "" {
			return false
		}
		for _, line := range inm {
			for line != "" {
				var tag string
				tag, line = nextItem(line)
				tag = strings.TrimSpace(tag)
				if tag == "*" || weakEqual(tag, etag) {
					return true
				}
			}
		}
		return false
	}
	ims := req.Get("If-Modified-Since")
	if ims == "" || lastModified == "" {
		return false
	}
	since, err := http.ParseTime(ims)
	if err != nil {
		return false
	}
	lm, err := http.ParseTime(lastModified)
	return err == nil && !lm.After(since)
}

// weakEqual is the weak comparison of entity tags (RFC 9110 §8.8.3.2).
func weakEqual(a, b string) bool {
	return strings.TrimPrefix(a, "W/") == strings.TrimPrefix(b, "W/")
}
