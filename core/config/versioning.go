package config

import (
	"net/url"
	"strings"
	"time"
)

// Versioning says where a request names the API version it wants. Routes
// with a version: match only requests naming it; a request that names none
// gets Default.
type Versioning struct {
	// By: path (the first path segment, "/v2/users", taken off before
	// routing), header, query or media_type.
	By string `yaml:"by"`
	// Headers read by "by: header", the first one present wins; default
	// API-Version and Accept-Version.
	Headers []string `yaml:"headers"`
	// Query is the parameter read by "by: query"; default "version".
	Query string `yaml:"query"`
	// MediaType is the Accept media type read by "by: media_type", with
	// {version} where the version is: "application/vnd.acme.{version}+json".
	MediaType string `yaml:"media_type"`
	// Default is the version of a request that names none; without it
	// such a request matches only routes without a version.
	Default string `yaml:"default"`
}

// Versioning sources.
const (
	VersionByPath      = "path"
	VersionByHeader    = "header"
	VersionByQuery     = "query"
	VersionByMediaType = "media_type"
)

// Deprecation is a route's announced retirement: RFC 9745's Deprecation
// header from At, RFC 8594's Sunset header, a Link with rel="deprecation",
// and after Sunset a refusal (410 Gone by default).
type Deprecation struct {
	// At is when the route is (or was) deprecated: a date (2027-01-01,
	// midnight UTC) or an RFC 3339 time. Required.
	At string `yaml:"at"`
	// Sunset is when it stops answering: a date or an RFC 3339 time.
	Sunset string `yaml:"sunset"`
	// Link is a page about the deprecation (an absolute http(s) URL).
	Link string `yaml:"link"`
	// Status answered after the sunset; default 410.
	Status int `yaml:"status"`
	// Message is the JSON error's reason after the sunset.
	Message string `yaml:"message"`
}

// ParseDate reads a deprecation date: YYYY-MM-DD (midnight UTC) or RFC 3339.
func ParseDate(s string) (time.Time, bool) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true
	}
	t, err := time.Parse(time.RFC3339, s)
	return t.UTC(), err == nil
}

func versioningDefaults(v *Versioning) {
	if v == nil {
		return
	}
	switch v.By {
	case VersionByHeader:
		if len(v.Headers) == 0 {
			v.Headers = []string{"API-Version", "Accept-Version"}
		}
	case VersionByQuery:
		setString(&v.Query, "version")
	}
}

func (v *Validator) versioning() {
	vc := v.c.Versioning
	if vc != nil {
		const p = "versioning"
		switch vc.By {
		case VersionByPath, VersionByQuery:
		case VersionByHeader:
			for i, h := range vc.Headers {
				if !IsToken(h) {
					v.Errorf(JoinIndex(p+".headers", i), "%q is not a valid header name", h)
				}
			}
		case VersionByMediaType:
			if strings.Count(vc.MediaType, "{version}") != 1 || !strings.Contains(vc.MediaType, "/") {
				v.Errorf(p+".media_type", "%q: want a media type with one {version}, like application/vnd.acme.{version}+json", vc.MediaType)
			}
		case "":
			v.Errorf(p+".by", "say where requests name their version: path, header, query or media_type")
		default:
			v.Errorf(p+".by", "%q is not valid; valid values: path, header, query, media_type", vc.By)
		}
		if vc.Default != "" && !validVersion(vc.Default) {
			v.Errorf(p+".default", "%q is not a version: letters, digits, '.', '-' and '_', like v2", vc.Default)
		}
	}
	for i := range v.c.Routes {
		r := &v.c.Routes[i]
		p := JoinIndex("routes", i)
		if r.Version != "" {
			switch {
			case vc == nil:
				v.Errorf(p+".version", "a route version needs a top-level versioning: block saying where requests name it (by: path, header, query or media_type)")
			case !validVersion(r.Version):
				v.Errorf(p+".version", "%q is not a version: letters, digits, '.', '-' and '_', like v2", r.Version)
			}
		}
		if d := r.Deprecation; d != nil {
			v.deprecation(p+".deprecation", d)
		}
	}
}

func (v *Validator) deprecation(p string, d *Deprecation) {
	var at, sunset time.Time
	var okAt, okSunset bool
	if d.At == "" {
		v.Errorf(p+".at", "say when the route is (or was) deprecated: at: 2027-01-01 (RFC 9745's Deprecation header carries the date)")
	} else {
		if at, okAt = ParseDate(d.At); !okAt {
			v.Errorf(p+".at", "%q is not a date: write 2027-01-01 or an RFC 3339 time", d.At)
		}
	}
	if d.Sunset != "" {
		if sunset, okSunset = ParseDate(d.Sunset); !okSunset {
			v.Errorf(p+".sunset", "%q is not a date: write 2027-06-30 or an RFC 3339 time", d.Sunset)
		}
	}
	if okAt && okSunset && !sunset.After(at) {
		v.Errorf(p+".sunset", "the sunset (%s) must come after the deprecation (%s)", d.Sunset, d.At)
	}
	if d.Link != "" {
		if u, err := url.Parse(d.Link); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.Errorf(p+".link", "%q is not an absolute http(s) URL", d.Link)
		}
	}
	if d.Status != 0 && (d.Status < 400 || d.Status > 599) {
		v.Errorf(p+".status", "%d: the answer after the sunset is an error status (400 to 599; default 410)", d.Status)
	}
}

// validVersion reports a version spelled with letters, digits, '.', '-', '_'.
func validVersion(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
