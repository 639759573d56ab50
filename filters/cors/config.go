// Package cors answers CORS preflight requests at the gateway and adds the
// CORS response headers for allowed origins (the Fetch standard's CORS
// protocol, https://fetch.spec.whatwg.org/#http-cors-protocol).
package cors

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/internal/identity"
)

func init() {
	filter.Register("cors", func() filter.Config { return new(Config) })
}

// Config is the `cors:` block of a route's filters. Put it before any auth
// filter: browsers send preflights without credentials.
type Config struct {
	// AllowOrigins: exact origins ("https://app.example.com"), wildcard
	// subdomains ("https://*.example.com", which does not match the bare
	// domain) or "*" for any origin (not with allow_credentials).
	AllowOrigins []string `yaml:"allow_origins"`
	// AllowOriginRegex: RE2 expressions matched against the whole origin.
	AllowOriginRegex []string `yaml:"allow_origin_regex"`
	// AllowMethods a cross-origin request may use (default GET, HEAD, POST).
	AllowMethods []string `yaml:"allow_methods"`
	// AllowHeaders a cross-origin request may send; "*" allows any.
	AllowHeaders []string `yaml:"allow_headers"`
	// ExposeHeaders a page may read from responses, beyond the safelisted.
	ExposeHeaders []string `yaml:"expose_headers"`
	// AllowCredentials lets pages send cookies and Authorization.
	AllowCredentials bool `yaml:"allow_credentials"`
	// MaxAge lets browsers cache a preflight's answer (e.g. "10m"; browsers
	// cap it, Chromium at 2h). Unset: the browser's default (5s).
	MaxAge config.Duration `yaml:"max_age"`
}

var defaultMethods = []string{"GET", "HEAD", "POST"}

// Validate checks origins, regexes and the credentials rules.
func (c *Config) Validate() error {
	if len(c.AllowOrigins) == 0 && len(c.AllowOriginRegex) == 0 {
		return config.FieldErr("allow_origins", `at least one origin is required, e.g. allow_origins: ["https://app.example.com"]`)
	}
	for i, o := range c.AllowOrigins {
		if o == "*" {
			if c.AllowCredentials {
				return config.FieldErr(fmt.Sprintf("allow_origins[%d]", i), `"*" cannot be used with allow_credentials (browsers refuse it, and reflecting any origin with credentials would let every site act as the user); list the origins`)
			}
			continue
		}
		if err := checkOrigin(o); err != nil {
			return config.FieldErr(fmt.Sprintf("allow_origins[%d]", i), "%v", err)
		}
	}
	for i, re := range c.AllowOriginRegex {
		if _, err := regexp.Compile(re); err != nil {
			return config.FieldErr(fmt.Sprintf("allow_origin_regex[%d]", i), "not a valid RE2 expression: %v", err)
		}
	}
	for i, m := range c.AllowMethods {
		if m == "" || strings.ContainsAny(m, " ,\t") {
			return config.FieldErr(fmt.Sprintf("allow_methods[%d]", i), "%q is not a method token", m)
		}
		if m == "*" && c.AllowCredentials {
			return config.FieldErr(fmt.Sprintf("allow_methods[%d]", i), `"*" means a literal "*" to browsers when credentials are allowed; list the methods`)
		}
	}
	for i, h := range c.AllowHeaders {
		if h == "" || strings.ContainsAny(h, " ,\t:") {
			return config.FieldErr(fmt.Sprintf("allow_headers[%d]", i), "%q is not a header name", h)
		}
	}
	for i, h := range c.ExposeHeaders {
		if h == "" || strings.ContainsAny(h, " ,\t:") {
			return config.FieldErr(fmt.Sprintf("expose_headers[%d]", i), "%q is not a header name", h)
		}
	}
	return nil
}

// checkOrigin accepts scheme://host[:port], where host may start with "*.".
func checkOrigin(o string) error {
	const want = `an origin is scheme://host[:port] with no path, e.g. "https://app.example.com" or "https://*.example.com"`
	scheme, rest, ok := strings.Cut(o, "://")
	if !ok || scheme == "" || rest == "" || strings.ContainsAny(rest, "/?#@ ") {
		return fmt.Errorf("%q: %s", o, want)
	}
	if strings.Contains(strings.TrimPrefix(rest, "*."), "*") {
		return fmt.Errorf("%q: a wildcard is only allowed as the first label (\"*.example.com\")", o)
	}
	return nil
}

// Build compiles the origin matchers and the header values.
func (c *Config) Build(bc *filter.BuildContext) (filter.Filter, error) {
	f := &Filter{credentials: c.AllowCredentials, denied: identity.FailureCounter(bc, "cors", "origin_denied")}
	for _, o := range c.AllowOrigins {
		o = strings.ToLower(o)
		switch {
		case o == "*":
			f.anyOrigin = true
		case strings.Contains(o, "://*."):
			scheme, host, _ := strings.Cut(o, "://*.")
			f.wildcards = append(f.wildcards, wildcard{prefix: scheme + "://", suffix: "." + host})
		default:
			f.exact = append(f.exact, o)
		}
	}
	for _, re := range c.AllowOriginRegex {
		f.regexes = append(f.regexes, regexp.MustCompile(`^(?:`+re+`)$`))
	}
	methods := c.AllowMethods
	if len(methods) == 0 {
		methods = defaultMethods
	}
	f.methods = methods
	f.methodsValue = []string{strings.Join(methods, ", ")}
	for _, h := range c.AllowHeaders {
		if h == "*" {
			f.anyHeader = true
			continue
		}
		f.headers = append(f.headers, strings.ToLower(h))
	}
	if len(c.ExposeHeaders) > 0 {
		f.exposeValue = []string{strings.Join(c.ExposeHeaders, ", ")}
	}
	if c.MaxAge > 0 {
		f.maxAgeValue = []string{strconv.Itoa(int(c.MaxAge.D().Seconds()))}
	}
	// With "*" and no credentials the answer is the same for every origin.
	f.star = f.anyOrigin && !f.credentials
	return f, nil
}

// SingularIdentity: two cors filters on a route would each answer the
// preflight and set Access-Control-* headers; any two clash.
func (c *Config) SingularIdentity() string { return "" }

var _ filter.Singular = (*Config)(nil)
