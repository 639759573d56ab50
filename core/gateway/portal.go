package gateway

import (
	"strings"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/portal"
)

// portal builds the snapshot's developer portal: the APIs routes publish
// (docs: documents, and filters that are Publishers, found by walking
// each built chain once), with what each route's filters ask of callers.
// nil when portal: is not on.
func (b *builder) portal(s *Snapshot) *portal.Portal {
	pc := config.Section[portal.Config](b.cfg, "portal")
	if !pc.On() {
		return nil
	}
	var srcs portal.Sources
	prefix := strings.TrimSuffix(pc.Prefix, "/")
	under := func(path string) bool {
		return prefix == "" || path == prefix || strings.HasPrefix(path, prefix+"/")
	}
	for _, r := range s.routes {
		rc := r.spec
		if p := rc.Match.Path + rc.Match.Prefix; p != "" && under(p) {
			b.warnings = append(b.warnings, b.cfg.Errorf(config.JoinIndex("routes", r.index)+".match",
				"route %q matches under %s, where the portal answers first on listener %q; it is reached on other listeners only", rc.Name, pc.Prefix, pc.ListenerOf(b.cfg)))
		}
		var pr *portal.Route // made for routes that publish something
		route := func() *portal.Route {
			if pr == nil {
				pr = b.portalRoute(r)
			}
			return pr
		}
		if rc.Docs != nil {
			name := rc.Docs.Name
			if name == "" {
				name = rc.Name
			}
			if err := srcs.AddDocument(name, rc.Docs.File, route()); err != nil {
				b.fail(config.JoinIndex("routes", r.index)+".docs", err)
			}
		}
		for _, f := range r.chain.Filters() {
			if p, ok := f.(filter.Publisher); ok {
				if err := srcs.AddPublisher(p, route()); err != nil {
					b.fail(config.JoinIndex("routes", r.index)+".filters", err)
				}
			}
		}
	}
	p, err := portal.New(pc, pc.ListenerOf(b.cfg), &srcs, b.logger, nil)
	if err != nil {
		b.fail("portal", err)
		return nil
	}
	return p
}

// portalRoute is a route as the portal shows it.
func (b *builder) portalRoute(r *Route) *portal.Route {
	rc := r.spec
	pr := &portal.Route{
		Name:        rc.Name,
		Methods:     rc.Match.Methods,
		Hosts:       rc.Match.Hosts,
		Deprecation: rc.Deprecation,
	}
	path := "/*"
	switch {
	case rc.Match.Path != "":
		path = rc.Match.Path
	case rc.Match.Prefix != "":
		path = strings.TrimSuffix(rc.Match.Prefix, "/") + "/*"
	case rc.Match.Regex != "":
		path = "~ " + rc.Match.Regex
	}
	if rc.Version != "" && b.cfg.Versioning != nil {
		vc := b.cfg.Versioning
		switch vc.By {
		case config.VersionByPath:
			path = "/" + rc.Version + path
			pr.Version = rc.Version + " (in the path)"
		case config.VersionByHeader:
			pr.Version = rc.Version + " (" + strings.Join(vc.Headers, " or ") + ": " + rc.Version + ")"
		case config.VersionByQuery:
			pr.Version = rc.Version + " (?" + vc.Query + "=" + rc.Version + ")"
		case config.VersionByMediaType:
			pr.Version = rc.Version + " (Accept: " + strings.Replace(vc.MediaType, "{version}", rc.Version, 1) + ")"
		}
		if vc.Default == rc.Version {
			pr.Version += ", the default"
		}
	}
	pr.Path = path
	for _, f := range r.chain.Filters() {
		if d, ok := f.(filter.Documented); ok {
			pr.Requirements = append(pr.Requirements, d.Requirement())
		}
	}
	return pr
}
