package gateway

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/router"
)

// versionReader finds the API version a request names, as the config's
// versioning: block says. It is built once per snapshot.
type versionReader struct {
	by      string
	headers []string // canonical keys
	query   string
	// by media_type: the parts around {version}
	mtPrefix, mtSuffix string
	def                string          // normalized default
	known              map[string]bool // by path: the versions routes serve
}

func newVersionReader(cfg *config.Config) *versionReader {
	vc := cfg.Versioning
	if vc == nil {
		return nil
	}
	v := &versionReader{by: vc.By, query: vc.Query, def: router.NormalizeVersion(vc.Default)}
	for _, h := range vc.Headers {
		v.headers = append(v.headers, http.CanonicalHeaderKey(h))
	}
	if vc.By == config.VersionByMediaType {
		v.mtPrefix, v.mtSuffix, _ = strings.Cut(strings.ToLower(vc.MediaType), "{version}")
	}
	if vc.By == config.VersionByPath {
		v.known = map[string]bool{}
		for _, rc := range cfg.Routes {
			if rc.Version != "" {
				v.known[router.NormalizeVersion(rc.Version)] = true
			}
		}
		if v.def != "" {
			v.known[v.def] = true
		}
	}
	return v
}

// read returns the version r names (normalized; the default when it names
// none) and, by path, the path with the version segment taken off. path is
// canonical.
func (v *versionReader) read(r *http.Request, path string) (version, rest string) {
	rest = path
	switch v.by {
	case config.VersionByPath:
		seg, tail := path[1:], ""
		if i := strings.IndexByte(seg, '/'); i >= 0 {
			seg, tail = seg[:i], seg[i:]
		}
		if n := router.NormalizeVersion(seg); v.known[n] {
			if tail == "" {
				tail = "/"
			}
			return n, tail
		}
	case config.VersionByHeader:
		for _, h := range v.headers {
			if vs := r.Header[h]; len(vs) > 0 && strings.TrimSpace(vs[0]) != "" {
				return router.NormalizeVersion(vs[0]), rest
			}
		}
	case config.VersionByQuery:
		if q := r.URL.RawQuery; q != "" {
			for q != "" {
				var kv string
				kv, q, _ = strings.Cut(q, "&")
				if k, val, _ := strings.Cut(kv, "="); k == v.query && val != "" {
					return router.NormalizeVersion(val), rest
				}
			}
		}
	case config.VersionByMediaType:
		for _, line := range r.Header["Accept"] {
			for _, mt := range strings.Split(line, ",") {
				mt, _, _ = strings.Cut(mt, ";")
				mt = strings.ToLower(strings.TrimSpace(mt))
				if ver, ok := strings.CutPrefix(mt, v.mtPrefix); ok {
					if ver, ok = strings.CutSuffix(ver, v.mtSuffix); ok && ver != "" {
						return router.NormalizeVersion(ver), rest
					}
				}
			}
		}
	}
	return v.def, rest
}

// deprecation is a route's compiled deprecation: the headers every answer
// carries until the sunset, and the refusal after it.
type deprecation struct {
	header   http.Header // Deprecation, Sunset, Link: shared, never modified
	sunset   time.Time   // zero: none
	status   int
	message  string
	now      func() time.Time
	route    string
	meter    filter.Meter
	mu       sync.Mutex
	counters map[string]*filter.Counter // by consumer name ("" anonymous)
}

// deprecatedRequests counts requests to deprecated and retired routes by
// consumer, so an operator knows whom to warn before a sunset.
var deprecatedRequests = filter.Metric{
	Name: "wasmgate.deprecated.requests",
	Unit: "{request}",
	Help: "Requests to deprecated routes, by route, consumer (empty: anonymous) and whether the route had passed its sunset.",
}

func newDeprecation(route string, d *config.Deprecation, meter filter.Meter) *deprecation {
	dp := &deprecation{header: http.Header{}, status: d.Status, message: d.Message,
		now: time.Now, route: route, meter: meter, counters: map[string]*filter.Counter{}}
	// RFC 9745: a structured-field date, seconds since the epoch.
	at, _ := config.ParseDate(d.At)
	dp.header.Set("Deprecation", "@"+strconv.FormatInt(at.Unix(), 10))
	if d.Sunset != "" {
		dp.sunset, _ = config.ParseDate(d.Sunset)
		dp.header.Set("Sunset", dp.sunset.UTC().Format(http.TimeFormat))
	}
	if d.Link != "" {
		dp.header.Set("Link", "<"+d.Link+`>; rel="deprecation"; type="text/html"`)
	}
	if dp.status == 0 {
		dp.status = http.StatusGone
	}
	if dp.message == "" {
		dp.message = "this API was retired on " + dp.sunset.UTC().Format(time.DateOnly)
		if d.Link != "" {
			dp.message += "; see " + d.Link
		}
	}
	return dp
}

// retired is the refusal of a request after the sunset, nil before it.
func (d *deprecation) retired(x *filter.Exchange) *filter.Response {
	if d.sunset.IsZero() || d.now().Before(d.sunset) {
		return nil
	}
	d.count(x, "true")
	resp := filter.Error(d.status, d.message)
	d.annotate(resp)
	return resp
}

// annotate adds the deprecation headers to a response about to be sent.
func (d *deprecation) annotate(resp *filter.Response) {
	if resp == nil {
		return
	}
	if resp.Header == nil {
		resp.Header = http.Header{}
	}
	for k, v := range d.header {
		if k == "Link" && len(resp.Header[k]) > 0 {
			resp.Header[k] = append(resp.Header[k], v...) // keep the upstream's links
			continue
		}
		resp.Header[k] = v
	}
}

// served marks a response of a deprecated route and counts its consumer.
func (d *deprecation) served(x *filter.Exchange) {
	d.annotate(x.Response)
	d.count(x, "false")
}

func (d *deprecation) count(x *filter.Exchange, sunset string) {
	if d.meter == nil {
		return
	}
	consumer := ""
	if x.Consumer != nil {
		consumer = x.Consumer.Name
	}
	key := sunset + "/" + consumer
	d.mu.Lock()
	c := d.counters[key]
	if c == nil {
		// Consumer names come from the config, so the set is bounded.
		c = d.meter.Counter(deprecatedRequests,
			filter.Label{Key: "http.route", Value: d.route},
			filter.Label{Key: "consumer", Value: consumer},
			filter.Label{Key: "sunset", Value: sunset})
		d.counters[key] = c
	}
	d.mu.Unlock()
	c.Inc()
}
