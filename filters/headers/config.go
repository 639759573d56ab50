// Package headers sets, adds and removes request and response headers, with
// values filled from the exchange ({id}, {route.name}, {client.ip}, ...).
package headers

import (
	"errors"
	"fmt"
	"net/http"
	"sort"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
)

func init() {
	filter.Register("headers", func() filter.Config { return new(Config) })
}

// Config is the `headers:` block of a route's filters.
type Config struct {
	Request  Ops `yaml:"request"`
	Response Ops `yaml:"response"`
}

// Ops edits one direction's headers. Remove runs first, then Set, then Add,
// so `remove: [X-A]` with `add: {X-A: v}` leaves exactly one value.
type Ops struct {
	// Values are hidden in GET /config: they often carry credentials for
	// the upstream (Authorization).
	Set    map[string]string `yaml:"set" redact:"secret"` // replace any existing values
	Add    map[string]string `yaml:"add" redact:"secret"` // append a value
	Remove []string          `yaml:"remove"`              // delete every value
}

// Validate checks header names; values are checked when compiled in Build.
func (c *Config) Validate() error {
	var errs []error
	for dir, ops := range map[string]Ops{"request": c.Request, "response": c.Response} {
		for i, name := range ops.Remove {
			if !config.IsToken(name) {
				errs = append(errs, config.FieldErr(fmt.Sprintf("%s.remove[%d]", dir, i), "%q is not a valid header name", name))
			}
		}
		for op, m := range map[string]map[string]string{"set": ops.Set, "add": ops.Add} {
			for name := range m {
				if !config.IsToken(name) {
					errs = append(errs, config.FieldErr(fmt.Sprintf("%s.%s", dir, op), "%q is not a valid header name", name))
				}
			}
		}
	}
	return joinSorted(errs)
}

// Shareable: the filter depends on its block and the route's parameter
// names alone, so routes with the same block share one (filter.Shareable).
func (c *Config) Shareable() {}

// Build compiles every value template once.
func (c *Config) Build(bc *filter.BuildContext) (filter.Filter, error) {
	req, err := c.Request.compile("request", bc.RouteParams)
	if err != nil {
		return nil, err
	}
	resp, err := c.Response.compile("response", bc.RouteParams)
	if err != nil {
		return nil, err
	}
	f := &Filter{request: req, response: resp}
	if len(resp.set)+len(resp.add)+len(resp.remove) == 0 {
		return &requestOnly{f}, nil
	}
	return f, nil
}

func (o Ops) compile(dir string, params []string) (compiled, error) {
	var c compiled
	for _, name := range o.Remove {
		c.remove = append(c.remove, http.CanonicalHeaderKey(name))
	}
	var err error
	if c.set, err = compileValues(dir+".set", o.Set, params); err != nil {
		return c, err
	}
	if c.add, err = compileValues(dir+".add", o.Add, params); err != nil {
		return c, err
	}
	return c, nil
}

// compileValues compiles a name→template map into a slice sorted by name, so
// the order headers are written in does not depend on map iteration.
func compileValues(field string, m map[string]string, params []string) ([]value, error) {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]value, 0, len(names))
	for _, n := range names {
		t, err := filter.CompileTemplate(m[n], params)
		if err != nil {
			return nil, config.FieldErr(field+`["`+n+`"]`, "%v", err)
		}
		out = append(out, value{name: http.CanonicalHeaderKey(n), tmpl: t})
	}
	return out, nil
}

func joinSorted(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errors.Join(errs...)
}
