// Package observe wraps every exchange with the gateway's observability:
// Prometheus metrics through the OpenTelemetry SDK, OpenTelemetry traces
// exported over OTLP, and an asynchronous access log. It plugs into the core
// as a filter.Observer built from the config's observability section; see
// README.md for the metrics, and meter.go for how filters add their own.
package observe

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/server"
	coreupstream "github.com/wasmgate/wasmgate/core/upstream"
)

func init() {
	filter.RegisterObserver("observe", build)
}

// Observer is one snapshot's observer: the signals the config turns on, and
// per-route state bound at load. Signals that are off are nil.
type Observer struct {
	meters  *Meters
	tracing *tracing
	log     *accessLog
	fields  *fieldSet

	metricsPath string
	routes      []routeObs         // by Exchange.RouteIndex
	upstreams   []*upstreamMetrics // every upstream, sorted by name
	unrouted    routeMetrics
	upstreamSrc coreupstream.StatusSource // the snapshot's upstreams (state.go)
	serverSrc   server.StatsSource        // the gateway's server (state.go)
}

// routeObs is what the hot path needs about one route, resolved at load.
type routeObs struct {
	name      string
	template  string // http.route: the path template, prefix or regex
	spanNames [len(methods)]string
	metrics   *routeMetrics
	upstream  *upstreamMetrics // nil for routes that respond locally
}

func build(bc *filter.BuildContext) (filter.Observer, error) {
	cfg := bc.Config
	metrics, tc, al := metricsOf(cfg), tracingOf(cfg), accessLogOf(cfg) // config.go
	if !metrics.Prometheus && tc.OTLPEndpoint == "" && al == nil {
		return nil, nil
	}
	o := &Observer{metricsPath: metrics.Path}
	if metrics.Prometheus {
		v, err := bc.Keep(metricsKey{}, func() (io.Closer, error) { return newMeters() })
		if err != nil {
			return nil, config.FieldErr("metrics", "%v", err)
		}
		o.meters = v.(*Meters)
	}
	if tc.OTLPEndpoint != "" {
		key, _ := json.Marshal(tc)
		v, err := bc.Keep(tracingKey{string(key)}, func() (io.Closer, error) { return newTracing(tc) })
		if err != nil {
			return nil, config.FieldErr("tracing", "%v", err)
		}
		o.tracing = v.(*tracing)
	}
	if al != nil && bc.DryRun {
		if err := checkAccessLog(al); err != nil {
			return nil, config.FieldErr("access_log.path", "cannot open the access log: %v", err)
		}
	} else if al != nil {
		v, err := bc.Keep(newAccessLogKey(al), func() (io.Closer, error) { return newAccessLog(al) })
		if err != nil {
			return nil, config.FieldErr("access_log.path", "cannot open the access log: %v", err)
		}
		o.log = v.(*accessLog)
		o.fields = compileFields(al.Fields)
	}

	upstreams := map[string]*upstreamMetrics{}
	for _, name := range slices.Sorted(maps.Keys(cfg.Upstreams)) {
		upstreams[name] = newUpstreamMetrics(name, cfg.Upstreams[name])
		o.upstreams = append(o.upstreams, upstreams[name])
	}
	o.routes = make([]routeObs, len(cfg.Routes))
	for i := range cfg.Routes {
		rc := &cfg.Routes[i]
		ro := &o.routes[i]
		ro.name = rc.Name
		ro.template = template(rc.Match)
		for m, method := range methods {
			if method == "_OTHER" {
				method = "HTTP"
			}
			ro.spanNames[m] = method + " " + ro.template
		}
		ro.metrics = &routeMetrics{route: rc.Name}
		ro.upstream = upstreams[rc.Upstream] // nil for local and aggregate routes
	}
	return o, nil
}

// template is the route's http.route: its path template as written.
func template(m config.Match) string {
	switch {
	case m.Path != "":
		return m.Path
	case m.Prefix != "":
		return m.Prefix + "*"
	case m.Regex != "":
		return m.Regex
	}
	return "/*"
}

// upstream finds the metrics of the attempt's upstream: the route's own
// (bound at load) for proxied routes; for an aggregate's calls, which go to
// other upstreams, a scan of the few configured ones (no map, no alloc).
func (o *Observer) upstream(x *filter.Exchange, a *filter.Attempt) *upstreamMetrics {
	if ro := o.route(x); ro != nil && ro.upstream != nil && ro.upstream.name == a.Upstream {
		return ro.upstream
	}
	for _, um := range o.upstreams {
		if um.name == a.Upstream {
			return um
		}
	}
	return nil
}

func (o *Observer) route(x *filter.Exchange) *routeObs {
	if x.Route == "" || x.RouteIndex >= len(o.routes) {
		return nil
	}
	return &o.routes[x.RouteIndex]
}

// Begin starts the server span and counts the request as active.
func (o *Observer) Begin(x *filter.Exchange) {
	if o.meters != nil {
		o.meters.active.Add(1)
	}
	if o.tracing != nil {
		o.tracing.begin(x)
	}
}

// End records the exchange: metrics, the span's end, the access-log line.
func (o *Observer) End(x *filter.Exchange) {
	now := time.Now()
	ro := o.route(x)
	if m := o.meters; m != nil {
		m.active.Add(-1)
		rm := &o.unrouted
		if ro != nil {
			rm = ro.metrics
		}
		m.record(rm, x, now.Sub(x.Start))
	}
	if o.tracing != nil {
		o.tracing.end(x, ro)
	}
	if o.log != nil {
		var e entry
		e.fill(x, o.fields, now)
		if !o.log.log(&e) && o.meters != nil {
			o.meters.logDropped.Add(context.Background(), 1)
		}
	}
}

// AttemptStart starts the attempt's client span and counts retries.
func (o *Observer) AttemptStart(x *filter.Exchange, a *filter.Attempt) {
	if o.tracing != nil {
		o.tracing.attemptStart(x, a)
	}
	if a.N > 1 && o.meters != nil {
		if um := o.upstream(x, a); um != nil {
			o.meters.retries.Add(context.Background(), 1, um.retries...)
		}
	}
}

// AttemptEnd records the attempt's duration and failure, and ends its span.
func (o *Observer) AttemptEnd(x *filter.Exchange, a *filter.Attempt) {
	if o.meters != nil {
		if um := o.upstream(x, a); um != nil {
			o.meters.attempt(um, a)
		}
	}
	if o.tracing != nil {
		o.tracing.attemptEnd(a)
	}
}

// ConfigApplied records the loaded config's hash, and a successful reload.
func (o *Observer) ConfigApplied(hash [32]byte, reload bool) {
	if o.meters == nil {
		return
	}
	var h uint64
	for _, b := range hash[:6] {
		h = h<<8 | uint64(b)
	}
	o.meters.configHash.Store(h)
	if o.upstreamSrc != nil {
		o.meters.upstreams.Store(&upstreamSource{o.upstreamSrc})
	} else {
		o.meters.upstreams.Store(nil)
	}
	if o.serverSrc != nil {
		o.meters.server.Store(&serverSource{o.serverSrc})
	}
	if reload {
		o.meters.reloads.Add(context.Background(), 1, o.meters.reloadOK...)
	}
}

// ConfigRejected counts a failed reload.
func (o *Observer) ConfigRejected(error) {
	if o.meters != nil {
		o.meters.reloads.Add(context.Background(), 1, o.meters.reloadFailed...)
	}
}

// Metrics serves the Prometheus endpoint on the admin listener.
func (o *Observer) Metrics() (string, http.Handler) {
	if o.meters == nil {
		return "", nil
	}
	return o.metricsPath, o.meters.handler
}

var (
	_ filter.Observer        = (*Observer)(nil)
	_ filter.AttemptObserver = (*Observer)(nil)
	_ filter.ConfigObserver  = (*Observer)(nil)
	_ filter.MetricsExposer  = (*Observer)(nil)
)
