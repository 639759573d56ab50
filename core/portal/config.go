// Package portal is the developer portal: a page, served by the gateway on
// one of its listeners, listing the APIs its routes publish (a route's
// docs: document, or a filter's, as the openapi filter's), each rendered
// from its OpenAPI 3.0/3.1 document, with what the gateway itself asks of
// callers: the auth and rate limits of the routes' filters, versions and
// deprecation dates. The raw documents are served beside it, and one that
// merges them all.
package portal

import (
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/wasmgate/wasmgate/core/config"
)

func init() {
	config.RegisterSection("portal", defaults, check)
	config.RegisterFiles(docFiles)
}

// DefaultPrefix is where the portal is served when no prefix is given.
const DefaultPrefix = "/docs"

// Config is the top-level `portal:` block.
type Config struct {
	// Enabled serves the portal (default true when the block is written;
	// false keeps the block and serves nothing).
	Enabled *bool `yaml:"enabled"`
	// Listener is the name of the listener the portal is served on
	// (default: the only listener; required when there are several). The
	// portal answers there before routing, so no route can shadow it.
	Listener string `yaml:"listener"`
	// Prefix is the path the portal is served under (default /docs): the
	// page at PREFIX/, the documents at PREFIX/openapi/NAME.json and the
	// merged one at PREFIX/openapi.json.
	Prefix string `yaml:"prefix"`
	// Title heads the page (default "API documentation").
	Title string `yaml:"title"`
	// Description is a paragraph under the title (plain text).
	Description string `yaml:"description"`

	// written: the config has a portal: key (check sets it); a section
	// is there, zero, in every config.
	written bool
}

// On reports whether the portal is served: written in the config and not
// turned off, or (a Config built in code) turned on.
func (c *Config) On() bool {
	if c == nil {
		return false
	}
	if c.Enabled != nil {
		return *c.Enabled
	}
	return c.written
}

func defaults(c *Config) {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.Title == "" {
		c.Title = "API documentation"
	}
}

var validName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func check(v *config.Validator, c *Config) {
	cfg := v.Config()
	c.written = hasKey(cfg.Root, "portal")
	for i := range cfg.Routes {
		r := &cfg.Routes[i]
		if r.Docs == nil {
			continue
		}
		p := config.JoinIndex("routes", i) + ".docs"
		if r.Docs.File == "" {
			v.Errorf(p+".file", "say which OpenAPI 3.0/3.1 document the route publishes: docs: {file: api.yaml}")
		} else if _, err := LoadFile(r.Docs.File); err != nil {
			v.Errorf(p+".file", "%v", err)
		}
		if r.Docs.Name != "" && !validName.MatchString(r.Docs.Name) {
			v.Errorf(p+".name", "%q: a name is 1 to 64 letters, digits, '.', '-' or '_' (it is in the document's URL)", r.Docs.Name)
		}
	}
	if !c.On() {
		return
	}
	if !strings.HasPrefix(c.Prefix, "/") || strings.HasSuffix(c.Prefix, "/") && c.Prefix != "/" ||
		strings.Contains(c.Prefix, "//") || strings.ContainsAny(c.Prefix, "?#{}*% ") ||
		strings.Contains(c.Prefix+"/", "/./") || strings.Contains(c.Prefix+"/", "/../") {
		v.Errorf("portal.prefix", "%q: want a plain absolute path without a trailing slash, like /docs", c.Prefix)
	}
	names := make([]string, 0, len(cfg.Listeners))
	for _, l := range cfg.Listeners {
		names = append(names, listenerName(l))
	}
	switch {
	case c.Listener == "" && len(names) > 1:
		v.Errorf("portal.listener", "there are %d listeners; name the one the portal is served on (%s)", len(names), strings.Join(names, ", "))
	case c.Listener != "":
		found := false
		for _, n := range names {
			found = found || n == c.Listener
		}
		if !found {
			v.Errorf("portal.listener", "no listener is named %q; listeners: %s", c.Listener, strings.Join(names, ", "))
		}
	}
}

// hasKey reports whether the document's top-level mapping has key.
func hasKey(root *yaml.Node, key string) bool {
	if root != nil && root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if root == nil || root.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == key {
			return true
		}
	}
	return false
}

// listenerName is the name a listener goes by (its address when unnamed).
func listenerName(l config.Listener) string {
	if l.Name != "" {
		return l.Name
	}
	return l.Address
}

// ListenerOf is the listener the portal is served on.
func (c *Config) ListenerOf(cfg *config.Config) string {
	if c.Listener != "" {
		return c.Listener
	}
	if len(cfg.Listeners) > 0 {
		return listenerName(cfg.Listeners[0])
	}
	return ""
}

// docFiles lists the routes' documents, so an edited document reloads the
// config as an edited config does.
func docFiles(cfg *config.Config) []string {
	var files []string
	for _, r := range cfg.Routes {
		if r.Docs != nil && r.Docs.File != "" {
			files = append(files, r.Docs.File)
		}
	}
	return files
}
