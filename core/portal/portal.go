package portal

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
)

// Route is a gateway route that serves a published API, as the page
// shows it.
type Route struct {
	Name        string
	Methods     []string
	Hosts       []string
	Path        string // "/api/users/{id}", "/api/orders/*" for a prefix, "~ regex"
	Version     string
	Deprecation *config.Deprecation
	// Requirements are what the route's filters ask of a caller (auth,
	// rate limits), in chain order.
	Requirements []filter.Requirement
}

// source is one API: a route's document, or a publisher's.
type source struct {
	name      string
	file      string           // a docs: document's file
	doc       *Document        // a docs: document, read at build
	publisher filter.Publisher // or the filter that publishes it
	routes    []*Route
}

// Sources collects the published APIs of one config, by name.
type Sources struct {
	list   []*source
	byName map[string]*source
}

// AddDocument adds a route's docs: document. Routes naming the same API
// must name the same file.
func (s *Sources) AddDocument(name, file string, route *Route) error {
	if src := s.byName[name]; src != nil {
		if src.file != file {
			return config.FieldErr("name", "%q is already the name of another API (%s); give this document another name", name, src.describe())
		}
		src.routes = append(src.routes, route)
		return nil
	}
	doc, err := LoadFile(file)
	if err != nil {
		return config.FieldErr("file", "%v", err)
	}
	s.add(&source{name: name, file: file, doc: doc, routes: []*Route{route}})
	return nil
}

// AddPublisher adds a filter's published API. A publisher of a name
// already taken by another publisher on another route joins it (the same
// openapi filter config on v1 and v2 routes); one taken by a docs:
// document is an error.
func (s *Sources) AddPublisher(p filter.Publisher, route *Route) error {
	api := p.PublishedAPI()
	if src := s.byName[api.Name]; src != nil {
		if src.publisher == nil {
			return fmt.Errorf("the API name %q is published by a filter here and by a docs: document (%s); rename one", api.Name, src.describe())
		}
		src.routes = append(src.routes, route)
		return nil
	}
	s.add(&source{name: api.Name, publisher: p, routes: []*Route{route}})
	return nil
}

func (s *Sources) add(src *source) {
	if s.byName == nil {
		s.byName = map[string]*source{}
	}
	s.byName[src.name] = src
	s.list = append(s.list, src)
}

func (src *source) describe() string {
	if src.file != "" {
		return src.file + ", on route " + src.routes[0].Name
	}
	return "published by a filter on route " + src.routes[0].Name
}

// Portal serves the page and the documents of one snapshot.
type Portal struct {
	listener string
	prefix   string
	title    string
	desc     string
	sources  []*source
	logger   *slog.Logger
	now      func() time.Time

	mu   sync.Mutex // rebuilds
	site atomic.Pointer[site]
}

// site is everything the portal serves, rendered: built with the
// snapshot, again when a publisher's document changes or a deprecation
// date passes, never per request.
type site struct {
	page, merged     []byte
	pageTag, mergTag string
	docs             map[string][]byte // name → the document's JSON
	docTags          map[string]string
	// published: the publishers' documents this site was built from (the
	// same bytes, compared by address and length, are the same version).
	published [][]byte
	// until: the next deprecation or sunset date; the page says "deprecated"
	// or "retired" from then on, so it is built again.
	until time.Time
}

// New builds the portal of a snapshot. logger and now may be nil.
func New(c *Config, listener string, srcs *Sources, logger *slog.Logger, now func() time.Time) (*Portal, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	p := &Portal{listener: listener, prefix: c.Prefix, title: c.Title, desc: c.Description, sources: srcs.list, logger: logger, now: now}
	if p.prefix == "/" {
		p.prefix = ""
	}
	s, err := p.build(nil)
	if err != nil {
		return nil, err
	}
	p.site.Store(s)
	return p, nil
}

// Listener is the name of the listener the portal is served on.
func (p *Portal) Listener() string { return p.listener }

// Match reports whether path (canonical) is the portal's.
func (p *Portal) Match(path string) bool {
	if p.prefix == "" {
		return true
	}
	return strings.HasPrefix(path, p.prefix) && (len(path) == len(p.prefix) || path[len(p.prefix)] == '/')
}

// Serve answers a request for one of the portal's paths (Match is true).
func (p *Portal) Serve(r *http.Request, path string) *filter.Response {
	rest := path[len(p.prefix):]
	if rest == "" {
		loc := p.prefix + "/"
		if r.URL.RawQuery != "" {
			loc += "?" + r.URL.RawQuery
		}
		resp := filter.Error(http.StatusPermanentRedirect, "the portal is at "+loc)
		resp.Header["Location"] = []string{loc}
		return resp
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		resp := filter.Error(http.StatusMethodNotAllowed, "the portal answers GET and HEAD only")
		resp.Header["Allow"] = []string{"GET, HEAD"}
		return resp
	}
	s := p.current()
	switch {
	case rest == "/" || rest == "/index.html":
		return reply(r, "text/html; charset=utf-8", pageCSP, s.page, s.pageTag)
	case rest == "/openapi.json":
		return reply(r, "application/json", docCSP, s.merged, s.mergTag)
	case strings.HasPrefix(rest, "/openapi/") && strings.HasSuffix(rest, ".json"):
		name := strings.TrimSuffix(strings.TrimPrefix(rest, "/openapi/"), ".json")
		if doc, ok := s.docs[name]; ok {
			return reply(r, "application/json", docCSP, doc, s.docTags[name])
		}
		return filter.Error(http.StatusNotFound, "no API is published as "+strconv.Quote(name))
	case strings.HasPrefix(rest, "/assets/"):
		if a, ok := assets[rest[len("/assets/"):]]; ok {
			return reply(r, a.contentType, docCSP, a.body, a.etag)
		}
	}
	return filter.Error(http.StatusNotFound, "the portal has no page "+strconv.Quote(path))
}

// Content-Security-Policy of the page: its own stylesheet and script,
// nothing inline, nothing from elsewhere, no framing. Documents and assets
// get the strictest one: they are never pages.
const (
	pageCSP = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	docCSP  = "default-src 'none'; frame-ancestors 'none'"
)

func reply(r *http.Request, contentType, csp string, body []byte, etag string) *filter.Response {
	h := http.Header{
		"Content-Type":            {contentType},
		"Content-Security-Policy": {csp},
		"X-Content-Type-Options":  {"nosniff"},
		"Referrer-Policy":         {"no-referrer"},
		"X-Frame-Options":         {"DENY"},
		"Cache-Control":           {"no-cache"},
		"Etag":                    {etag},
	}
	if contentType == "application/json" {
		// Documents are for tools too (editors, code generators) that
		// fetch them from other origins; they carry nothing private.
		h["Access-Control-Allow-Origin"] = []string{"*"}
	}
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatches(match, etag) {
		return &filter.Response{Status: http.StatusNotModified, Header: h, Local: true}
	}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	return &filter.Response{Status: http.StatusOK, Header: h, Body: body, Local: true}
}

func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

func tag(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}

// current is the site to serve: the built one, unless a publisher's
// document changed or a date passed since, then a new one.
func (p *Portal) current() *site {
	s := p.site.Load()
	if !p.stale(s) {
		return s
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if s = p.site.Load(); !p.stale(s) {
		return s
	}
	next, err := p.build(s)
	if err != nil {
		// A publisher's new document cannot be read: keep the last good
		// site, marked as built from what is published now, so the next
		// requests do not try (and log) again until it changes.
		p.logger.Warn("portal: a published document changed and cannot be shown; the portal keeps the last version", "error", err)
		kept := *s
		kept.published = nil
		for _, src := range p.sources {
			if src.publisher != nil {
				kept.published = append(kept.published, src.publisher.PublishedAPI().Document)
			}
		}
		p.site.Store(&kept)
		return &kept
	}
	p.site.Store(next)
	return next
}

func (p *Portal) stale(s *site) bool {
	if !s.until.IsZero() && !p.now().Before(s.until) {
		return true
	}
	i := 0
	for _, src := range p.sources {
		if src.publisher == nil {
			continue
		}
		if !sameBytes(src.publisher.PublishedAPI().Document, s.published[i]) {
			return true
		}
		i++
	}
	return false
}

// sameBytes reports whether a and b are the same slice (a publisher hands
// out the document it holds; a new version is a new slice).
func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || unsafe.SliceData(a) == unsafe.SliceData(b))
}

// build renders the site. prev, if any, is the site it replaces: a
// publisher whose new document cannot be read fails the rebuild.
func (p *Portal) build(prev *site) (*site, error) {
	now := p.now()
	s := &site{docs: map[string][]byte{}, docTags: map[string]string{}}
	var apis []*API
	var docs []*Document
	var names []string
	for _, src := range p.sources {
		doc := src.doc
		if src.publisher != nil {
			raw := src.publisher.PublishedAPI().Document
			s.published = append(s.published, raw)
			d, err := Parse(src.name, raw)
			if err != nil {
				if prev == nil {
					return nil, fmt.Errorf("the document the filter publishes as %q: %w", src.name, err)
				}
				return nil, err
			}
			doc = d
		}
		a := buildAPI(src.name, doc)
		a.Routes = src.routes
		for _, r := range src.routes {
			for _, req := range r.Requirements {
				if req.Kind == filter.RequiresAuth && !containsReq(a.Auth, req) {
					a.Auth = append(a.Auth, req)
				}
			}
			if d := r.Deprecation; d != nil {
				a.Deprecated = true
				for _, date := range []string{d.At, d.Sunset} {
					if t, ok := config.ParseDate(date); ok && t.After(now) && (s.until.IsZero() || t.Before(s.until)) {
						s.until = t
					}
				}
			}
		}
		apis = append(apis, a)
		docs = append(docs, doc)
		names = append(names, src.name)
		s.docs[src.name] = doc.JSON
		s.docTags[src.name] = tag(doc.JSON)
	}
	titles := map[string]int{}
	for _, a := range apis {
		titles[a.Title]++
	}
	for _, a := range apis {
		if a.NavTitle = a.Title; titles[a.Title] > 1 {
			a.NavTitle += " (" + a.Name + ")"
		}
	}
	merged, err := merge(p.title, names, docs)
	if err != nil {
		return nil, err
	}
	s.merged, s.mergTag = merged, tag(merged)
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, &pageModel{Title: p.title, Description: p.desc, APIs: apis, Now: now}); err != nil {
		return nil, fmt.Errorf("portal page: %w", err)
	}
	s.page, s.pageTag = buf.Bytes(), tag(buf.Bytes())
	return s, nil
}

func containsReq(list []filter.Requirement, r filter.Requirement) bool {
	for _, q := range list {
		if q.Kind == r.Kind && q.Title == r.Title && fmt.Sprint(q.Details) == fmt.Sprint(r.Details) {
			return true
		}
	}
	return false
}
