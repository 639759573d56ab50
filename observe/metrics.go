package observe

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
)

// Attribute keys. Values come from config names and fixed sets only, never
// from paths or header values, so cardinality is bounded by the config.
const (
	keyRoute       = attribute.Key("http.route")
	keyMethod      = attribute.Key("http.request.method")
	keyStatusClass = attribute.Key("http.response.status_class")
	keyUpstream    = attribute.Key("upstream")
	keyTarget      = attribute.Key("target")
	keyErrorType   = attribute.Key("error.type")
	keyResult      = attribute.Key("result")
)

// Meters is the gateway's metrics: an OTel meter provider exported to a
// Prometheus registry of its own, and every instrument. It is kept across
// reloads (BuildContext.Keep), so counters survive them; it is also the
// meter filters register their own metrics in (meter.go).
type Meters struct {
	registry *prometheus.Registry
	provider *sdkmetric.MeterProvider
	handler  http.Handler
	meter    metric.Meter

	requestDuration metric.Float64Histogram
	requestSize     metric.Int64Histogram
	responseSize    metric.Int64Histogram
	active          atomic.Int64 // read at scrape time: http.server.active_requests
	attemptDuration metric.Float64Histogram
	attemptErrors   metric.Int64Counter
	retries         metric.Int64Counter
	reloads         metric.Int64Counter
	logDropped      metric.Int64Counter
	configHash      atomic.Uint64

	reloadOK, reloadFailed []metric.AddOption

	stateInstruments
	filterMeters           // the filters' own counters (meter.go)
	collected    collected // the filters' run-time named metrics (collect.go)
}

// metricsKey keeps the one set of meters every snapshot shares.
type metricsKey struct{}

// Seconds buckets of the OTel HTTP semantic conventions; sizes in decades.
var (
	durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}
	sizeBuckets     = []float64{0, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8}
)

func newMeters() (*Meters, error) {
	m := &Meters{registry: prometheus.NewRegistry()}
	exp, err := otelprom.New(otelprom.WithRegisterer(m.registry), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		return nil, err
	}
	m.provider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter))
	m.handler = promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
	m.meter = m.provider.Meter("github.com/wasmgate/wasmgate")
	mt := m.meter
	var errs []error
	add := func(err error) { errs = append(errs, err) }

	m.requestDuration, err = mt.Float64Histogram("http.server.request.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of HTTP server requests, by route, method and status class."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	add(err)
	m.requestSize, err = mt.Int64Histogram("http.server.request.body.size", metric.WithUnit("By"),
		metric.WithDescription("Size of HTTP server request bodies read."), metric.WithExplicitBucketBoundaries(sizeBuckets...))
	add(err)
	m.responseSize, err = mt.Int64Histogram("http.server.response.body.size", metric.WithUnit("By"),
		metric.WithDescription("Size of HTTP server response bodies written."), metric.WithExplicitBucketBoundaries(sizeBuckets...))
	add(err)
	_, err = mt.Int64ObservableUpDownCounter("http.server.active_requests", metric.WithUnit("{request}"),
		metric.WithDescription("Requests being served."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(m.active.Load())
			return nil
		}))
	add(err)
	m.attemptDuration, err = mt.Float64Histogram("wasmgate.upstream.attempt.duration", metric.WithUnit("s"),
		metric.WithDescription("Time to an upstream's response headers, per attempt, by upstream and target."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	add(err)
	m.attemptErrors, err = mt.Int64Counter("wasmgate.upstream.attempt.errors", metric.WithUnit("{attempt}"),
		metric.WithDescription("Upstream attempts that failed, by upstream, target and error type."))
	add(err)
	m.retries, err = mt.Int64Counter("wasmgate.upstream.retries", metric.WithUnit("{attempt}"),
		metric.WithDescription("Upstream attempts after the first, by upstream."))
	add(err)
	m.reloads, err = mt.Int64Counter("wasmgate.config.reloads", metric.WithUnit("{reload}"),
		metric.WithDescription("Config reloads, by result (success, failure)."))
	add(err)
	m.logDropped, err = mt.Int64Counter("wasmgate.access_log.dropped", metric.WithUnit("{line}"),
		metric.WithDescription("Access-log lines dropped because the sink fell behind."))
	add(err)
	_, err = mt.Int64ObservableGauge("wasmgate.config.hash",
		metric.WithDescription("The loaded config's hash: the first 48 bits of its SHA-256, as a number."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(m.configHash.Load()))
			return nil
		}))
	add(err)
	add(m.stateInstruments.init(mt))
	add(m.registry.Register(&m.collected))
	if err := errors.Join(errs...); err != nil {
		_ = m.provider.Shutdown(context.Background())
		return nil, err
	}
	m.reloadOK = addOpts(keyResult.String("success"))
	m.reloadFailed = addOpts(keyResult.String("failure"))
	return m, nil
}

// Close flushes nothing (Prometheus pulls) and stops the provider.
func (m *Meters) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return m.provider.Shutdown(ctx)
}

// Handler serves the Prometheus text format.
func (m *Meters) Handler() http.Handler { return m.handler }

func recordOpts(kvs ...attribute.KeyValue) []metric.RecordOption {
	return []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(kvs...))}
}

func addOpts(kvs ...attribute.KeyValue) []metric.AddOption {
	return []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(kvs...))}
}

// Methods as the semantic conventions name them; anything else is _OTHER,
// so a client cannot mint label values.
var methods = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "_OTHER"}

func methodIndex(m string) int {
	switch m {
	case "GET":
		return 0
	case "HEAD":
		return 1
	case "POST":
		return 2
	case "PUT":
		return 3
	case "DELETE":
		return 4
	case "CONNECT":
		return 5
	case "OPTIONS":
		return 6
	case "TRACE":
		return 7
	case "PATCH":
		return 8
	}
	return 9
}

var statusClasses = [...]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

func classIndex(status int) int {
	if status < 100 || status > 599 {
		return 0
	}
	return status / 100
}

// routeMetrics holds a route's attribute sets, one per method and status
// class, each made on first use and then reused: no allocation per request.
type routeMetrics struct {
	route string // "" for exchanges no route matched: the attribute is left out
	cells [len(methods)][len(statusClasses)]atomic.Pointer[[]metric.RecordOption]
}

func (rm *routeMetrics) opts(method, status int) []metric.RecordOption {
	cell := &rm.cells[method][status]
	if p := cell.Load(); p != nil {
		return *p
	}
	kvs := []attribute.KeyValue{keyMethod.String(methods[method]), keyStatusClass.String(statusClasses[status])}
	if rm.route != "" {
		kvs = append(kvs, keyRoute.String(rm.route))
	}
	o := recordOpts(kvs...)
	cell.Store(&o) // a racing first use stores an equal set
	return o
}

// upstreamMetrics holds an upstream's attribute sets per target, bound at load.
type upstreamMetrics struct {
	name    string
	retries []metric.AddOption
	targets []targetMetrics
	unknown targetMetrics // a target not in the config (cannot happen today)
}

type targetMetrics struct {
	host     string
	duration []metric.RecordOption
	errors   [6][]metric.AddOption // by errorTypeIndex
}

var errorTypes = [...]string{"unknown", "connect", "timeout", "bad_response", "client_gone", "client_body"}

func errorTypeIndex(t string) int {
	for i, e := range errorTypes {
		if e == t {
			return i
		}
	}
	return 0
}

func newUpstreamMetrics(name string, uc *config.Upstream) *upstreamMetrics {
	um := &upstreamMetrics{name: name, retries: addOpts(keyUpstream.String(name))}
	bind := func(host string) targetMetrics {
		tm := targetMetrics{host: host, duration: recordOpts(keyUpstream.String(name), keyTarget.String(host))}
		for i, e := range errorTypes {
			tm.errors[i] = addOpts(keyUpstream.String(name), keyTarget.String(host), keyErrorType.String(e))
		}
		return tm
	}
	for _, t := range uc.Targets {
		if u, err := url.Parse(t.URL); err == nil {
			um.targets = append(um.targets, bind(u.Host))
		}
	}
	um.unknown = bind("")
	return um
}

func (um *upstreamMetrics) target(host string) *targetMetrics {
	for i := range um.targets {
		if um.targets[i].host == host {
			return &um.targets[i]
		}
	}
	return &um.unknown
}

// record is the exchange's metrics record, at End.
func (m *Meters) record(rm *routeMetrics, x *filter.Exchange, elapsed time.Duration) {
	ctx := context.Background()
	opts := rm.opts(methodIndex(x.Request.Method), classIndex(x.Status))
	m.requestDuration.Record(ctx, elapsed.Seconds(), opts...)
	m.requestSize.Record(ctx, x.BytesIn, opts...)
	m.responseSize.Record(ctx, x.BytesOut, opts...)
}

func (m *Meters) attempt(um *upstreamMetrics, a *filter.Attempt) {
	ctx := context.Background()
	tm := um.target(a.Target)
	m.attemptDuration.Record(ctx, a.Duration.Seconds(), tm.duration...)
	if a.ErrorType != "" {
		m.attemptErrors.Add(ctx, 1, tm.errors[errorTypeIndex(a.ErrorType)]...)
	}
}
