package cors

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/wasmgate/wasmgate/core/filter"
)

// Filter is a compiled CORS policy.
type Filter struct {
	anyOrigin   bool
	star        bool // answer "*": any origin and no credentials
	exact       []string
	wildcards   []wildcard
	regexes     []*regexp.Regexp
	methods     []string
	anyHeader   bool
	headers     []string // lowercase
	credentials bool

	methodsValue, exposeValue, maxAgeValue []string

	denied *filter.Counter // preflights from origins not allowed, for metrics
}

type wildcard struct{ prefix, suffix string } // "https://", ".example.com[:port]"

var (
	trueValue = []string{"true"}
	starValue = []string{"*"}
)

// OnRequest answers preflights (OPTIONS with Origin and
// Access-Control-Request-Method) itself; other requests continue.
func (f *Filter) OnRequest(x *filter.Exchange) *filter.Response {
	r := x.Request
	origin := r.Header.Get("Origin")
	if r.Method != http.MethodOptions || origin == "" || r.Header.Get("Access-Control-Request-Method") == "" {
		return nil
	}
	if !f.allowsOrigin(origin) {
		f.denied.Add(1)
		return filter.Error(http.StatusForbidden, "CORS: origin "+origin+" is not allowed")
	}
	method := r.Header.Get("Access-Control-Request-Method")
	if !f.allowsMethod(method) {
		return filter.Error(http.StatusForbidden, "CORS: method "+method+" is not allowed")
	}
	requested := r.Header.Values("Access-Control-Request-Headers")
	if bad := f.disallowedHeader(requested); bad != "" {
		return filter.Error(http.StatusForbidden, "CORS: header "+bad+" is not allowed")
	}
	h := http.Header{}
	f.setOrigin(h, origin)
	h["Access-Control-Allow-Methods"] = f.methodsValue
	if len(requested) > 0 {
		h["Access-Control-Allow-Headers"] = []string{strings.Join(requested, ", ")}
	}
	if f.maxAgeValue != nil {
		h["Access-Control-Max-Age"] = f.maxAgeValue
	}
	h["Vary"] = []string{"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"}
	h["Content-Length"] = []string{"0"}
	return &filter.Response{Status: http.StatusNoContent, Header: h, Local: true}
}

// OnResponse adds the CORS headers to every response (the upstream's, or a
// local one such as a 401, which a page must be able to read too) to a
// request from an allowed origin.
func (f *Filter) OnResponse(x *filter.Exchange) *filter.Response {
	origin := x.Request.Header.Get("Origin")
	resp := x.Response
	if resp.Header == nil {
		resp.Header = http.Header{}
	}
	h := resp.Header
	if !f.star {
		// The answer depends on Origin, so caches must key on it, whether
		// this origin is allowed or not.
		if !hasToken(h["Vary"], "Origin") {
			h["Vary"] = append(h["Vary"], "Origin")
		}
	}
	if origin == "" || (resp.Local && h["Access-Control-Allow-Methods"] != nil) {
		return nil // not cross-origin, or our own preflight answer
	}
	if !f.allowsOrigin(origin) {
		return nil
	}
	f.setOrigin(h, origin)
	if f.exposeValue != nil {
		h["Access-Control-Expose-Headers"] = f.exposeValue
	}
	return nil
}

func (f *Filter) setOrigin(h http.Header, origin string) {
	if f.star {
		h["Access-Control-Allow-Origin"] = starValue
		return
	}
	h["Access-Control-Allow-Origin"] = []string{origin}
	if f.credentials {
		h["Access-Control-Allow-Credentials"] = trueValue
	}
}

func (f *Filter) allowsOrigin(origin string) bool {
	if f.anyOrigin {
		return true
	}
	o := strings.ToLower(origin)
	for _, e := range f.exact {
		if o == e {
			return true
		}
	}
	for _, w := range f.wildcards {
		if len(o) > len(w.prefix)+len(w.suffix) && strings.HasPrefix(o, w.prefix) && strings.HasSuffix(o, w.suffix) &&
			validLabels(o[len(w.prefix):len(o)-len(w.suffix)]) {
			return true
		}
	}
	for _, re := range f.regexes {
		if re.MatchString(origin) {
			return true
		}
	}
	return false
}

// validLabels is the part a "*." wildcard stands for: DNS labels only, so
// "https://evil.com#.example.com" and userinfo or ports cannot sneak in.
func validLabels(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return s[0] != '.' && s[len(s)-1] != '.'
}

func (f *Filter) allowsMethod(m string) bool {
	for _, a := range f.methods {
		if a == m || a == "*" {
			return true
		}
	}
	return false
}

// disallowedHeader returns the first requested header not allowed, or "".
func (f *Filter) disallowedHeader(requested []string) string {
	if f.anyHeader {
		return ""
	}
	for _, v := range requested {
		for _, name := range strings.Split(v, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" {
				continue
			}
			ok := false
			for _, a := range f.headers {
				if a == name {
					ok = true
					break
				}
			}
			if !ok {
				return name
			}
		}
	}
	return ""
}

func hasToken(values []string, token string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

var (
	_ filter.Filter         = (*Filter)(nil)
	_ filter.ResponseFilter = (*Filter)(nil)
	_ filter.Config         = (*Config)(nil)
	_ filter.Validator      = (*Config)(nil)
)
