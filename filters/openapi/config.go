// Package openapi validates requests against an OpenAPI 3.0/3.1 document:
// it finds the request's operation from the document's own paths and
// servers, checks its path, query, header and cookie parameters and its
// body, and refuses what does not match (enforce) or only counts and logs
// it (report). The document is compiled once at load; the filter publishes
// it to the portal.
package openapi

import (
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
)

func init() {
	filter.Register("openapi", func() filter.Config { return new(Config) })
}

// Defaults, documented on the fields.
const (
	DefaultRefresh     = 10 * time.Minute
	DefaultTimeout     = 10 * time.Second
	DefaultMaxBody     = 1 << 20
	DefaultMaxProblems = 20
)

// Config is the `openapi:` block of a route's filters.
type Config struct {
	// Spec is the OpenAPI 3.0/3.1 document, YAML or JSON (one of spec and
	// spec_url is required).
	Spec string `yaml:"spec" path:"file"`
	// SpecURL is fetched at load and every refresh; when a fetch fails or
	// the new document does not compile, the last good one stays in use.
	SpecURL string          `yaml:"spec_url"`
	Refresh config.Duration `yaml:"refresh"` // default 10m
	Timeout config.Duration `yaml:"timeout"` // a fetch's timeout, default 10s
	// Name is the API's name in the portal and in metrics (default: the
	// document's info.title).
	Name string `yaml:"name"`
	// BasePath is the path the API is served under, in place of the paths
	// of the document's servers (e.g. "/api" or "" for none: write "/").
	BasePath string `yaml:"base_path"`
	// Mode: enforce (default) refuses invalid requests; report lets them
	// through, logging and counting each problem.
	Mode string `yaml:"mode"`
	// Operations limits validation to some operations (by operationId);
	// requests to the others pass unchecked.
	Operations Operations `yaml:"operations"`
	// Validate selects what is checked; every part is on by default.
	Parts Parts `yaml:"validate"`
	// Responses validates upstream responses against the document too,
	// in report mode only (a response is never refused): logged and counted.
	Responses bool `yaml:"responses"`
	// MaxBody is the largest request body checked (default 1MiB); the
	// route buffers bodies up to it, and refuses larger ones with 413.
	MaxBody config.Size `yaml:"max_body"`
	// MaxProblems caps the problems listed in a 400 (default 20); the rest
	// are counted in its "omitted".
	MaxProblems int `yaml:"max_problems"`
}

// Operations names operations by operationId.
type Operations struct {
	Include []string `yaml:"include"` // only these (default: all)
	Exclude []string `yaml:"exclude"` // not these
}

// Parts selects the parts of a request that are validated.
type Parts struct {
	Path    *bool `yaml:"path"`    // path parameters (default true)
	Query   *bool `yaml:"query"`   // query parameters (default true)
	Headers *bool `yaml:"headers"` // header parameters (default true)
	Cookies *bool `yaml:"cookies"` // cookie parameters (default true)
	// Body: the request body's media type and, for JSON, its schema
	// (default true; false also leaves the body unbuffered).
	Body *bool `yaml:"body"`
}

func (p Parts) what() what {
	on := func(b *bool) bool { return b == nil || *b }
	return what{path: on(p.Path), query: on(p.Query), headers: on(p.Headers), cookies: on(p.Cookies), body: on(p.Body)}
}

// Validate checks the block as written.
func (c *Config) Validate() error {
	var errs []error
	switch {
	case c.Spec == "" && c.SpecURL == "":
		errs = append(errs, config.FieldErr("", "give the document: spec (a file) or spec_url (fetched and refreshed)"))
	case c.Spec != "" && c.SpecURL != "":
		errs = append(errs, config.FieldErr("spec_url", "give spec or spec_url, not both"))
	}
	if c.SpecURL != "" {
		u, err := url.Parse(c.SpecURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, config.FieldErr("spec_url", "%q is not an http(s) URL", c.SpecURL))
		}
	} else if c.Refresh != 0 {
		errs = append(errs, config.FieldErr("refresh", "refresh applies to spec_url only"))
	}
	if c.Refresh < 0 || (c.Refresh > 0 && c.Refresh.D() < time.Second) {
		errs = append(errs, config.FieldErr("refresh", "at least 1s, e.g. refresh: 5m"))
	}
	switch c.Mode {
	case "", "enforce", "report":
	default:
		errs = append(errs, config.FieldErr("mode", "%q is not a mode; valid: enforce, report", c.Mode))
	}
	if c.Responses && c.Mode != "report" {
		errs = append(errs, config.FieldErr("responses", "response validation runs in report mode only (mode: report); a gateway does not refuse a response its upstream already sent"))
	}
	if c.BasePath != "" && !strings.HasPrefix(c.BasePath, "/") {
		errs = append(errs, config.FieldErr("base_path", "%q must start with /", c.BasePath))
	}
	if c.MaxBody < 0 {
		errs = append(errs, config.FieldErr("max_body", "a positive size, e.g. 1MiB"))
	}
	if c.MaxProblems < 0 {
		errs = append(errs, config.FieldErr("max_problems", "a positive number, e.g. 20"))
	}
	in := setOf(c.Operations.Include)
	for i, id := range c.Operations.Exclude {
		if in[id] {
			errs = append(errs, config.FieldErr(config.JoinIndex("operations.exclude", i), "%q is also in include", id))
		}
	}
	return errors.Join(errs...)
}

func (c *Config) options() compileOptions {
	return compileOptions{BasePath: c.BasePath, Include: c.Operations.Include, Exclude: c.Operations.Exclude}
}

var (
	_ filter.Config    = (*Config)(nil)
	_ filter.Validator = (*Config)(nil)
)
