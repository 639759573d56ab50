package observe

import (
	"net/url"
	"slices"
	"strings"

	"github.com/wasmgate/wasmgate/core/config"
)

// The signals of the config's observability block are this package's
// sections: observability.metrics, .tracing and .access_log. Each is off
// unless configured. (observability.request_id is the core's: the gateway
// sets the ID before any observer sees the exchange.)

func init() {
	config.RegisterSection("observability.metrics", metricsDefaults, checkMetrics)
	config.RegisterSection("observability.tracing", tracingDefaults, checkTracing)
	config.RegisterSection("observability.access_log", accessLogDefaults, checkAccessLogBlock)
}

// Metrics are served for Prometheus on the admin listener.
type Metrics struct {
	Prometheus bool   `yaml:"prometheus"` // serves /metrics in the Prometheus text format
	Path       string `yaml:"path"`       // on the admin listener; default /metrics
}

// Tracing exports OpenTelemetry spans: one server span per exchange and a
// client span per upstream attempt. It is on when OTLPEndpoint is set.
type Tracing struct {
	// OTLPEndpoint is the collector's base URL, e.g. http://127.0.0.1:4318
	// (OTLP/HTTP; traces go to /v1/traces unless the URL has a path), or
	// http(s)://host:4317 with protocol grpc (http: plaintext, https: TLS).
	OTLPEndpoint string `yaml:"otlp_endpoint"`
	Protocol     string `yaml:"protocol"` // http (default) | grpc
	// Sample is the ratio of new traces recorded, 0 to 1 (default 1). A
	// request that carries a traceparent follows its parent's decision.
	Sample      *float64          `yaml:"sample"`
	ServiceName string            `yaml:"service_name"`            // default wasmgate
	Headers     map[string]string `yaml:"headers" redact:"secret"` // sent with every export (auth tokens: use ${ENV})
}

// AccessLog writes one line per exchange, asynchronously. The section is a
// *AccessLog: present (even {}) turns the log on, absent or null leaves it
// off.
type AccessLog struct {
	Format string `yaml:"format"` // json (default) | text (common log format, extended)
	// Path is stdout (default), stderr, or a file opened for appending.
	Path string `yaml:"path" path:"file,stdout,stderr"`
	// Fields selects and orders the fields written (default: all of
	// AccessLogFields).
	Fields []string `yaml:"fields"`
	// Buffer is how many lines may wait for a slow sink; beyond it lines are
	// dropped and counted, so requests never wait (default 4096).
	Buffer int `yaml:"buffer"`
}

// AccessLogFields are the access-log fields' names, in their default order
// (the table is fields, in accesslog.go).
var AccessLogFields = func() []string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	return names
}()

// metricsOf, tracingOf and accessLogOf read cfg's signals: the zero value
// (off) for a config built in code without them; accessLogOf is nil when
// the log is off.
func metricsOf(cfg *config.Config) Metrics {
	if m := config.Section[Metrics](cfg, "observability.metrics"); m != nil {
		return *m
	}
	return Metrics{}
}

func tracingOf(cfg *config.Config) Tracing {
	if t := config.Section[Tracing](cfg, "observability.tracing"); t != nil {
		return *t
	}
	return Tracing{}
}

func accessLogOf(cfg *config.Config) *AccessLog {
	if a := config.Section[*AccessLog](cfg, "observability.access_log"); a != nil {
		return *a
	}
	return nil
}

const (
	defaultMetricsPath      = "/metrics"
	defaultTracingProtocol  = "http"
	defaultTracingService   = "wasmgate"
	defaultAccessLogFormat  = "json"
	defaultAccessLogPath    = "stdout"
	defaultAccessLogBuffer  = 4096
	defaultTracingSampleAll = 1.0
)

func metricsDefaults(m *Metrics) {
	setString(&m.Path, defaultMetricsPath)
}

func tracingDefaults(t *Tracing) {
	if t.OTLPEndpoint == "" {
		return
	}
	setString(&t.Protocol, defaultTracingProtocol)
	setString(&t.ServiceName, defaultTracingService)
	if t.Sample == nil {
		s := defaultTracingSampleAll
		t.Sample = &s
	}
}

func accessLogDefaults(al **AccessLog) {
	a := *al
	if a == nil {
		return
	}
	setString(&a.Format, defaultAccessLogFormat)
	setString(&a.Path, defaultAccessLogPath)
	if len(a.Fields) == 0 {
		a.Fields = AccessLogFields
	}
	if a.Buffer == 0 {
		a.Buffer = defaultAccessLogBuffer
	}
}

func setString(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

// block is the path of the signals' block.
const block = "observability"

func checkMetrics(v *config.Validator, m *Metrics) {
	if !m.Prometheus {
		return
	}
	if !strings.HasPrefix(m.Path, "/") {
		v.Errorf(block+".metrics.path", "%q must start with \"/\", e.g. /metrics", m.Path)
	}
	if v.Config().Admin.Address == "off" {
		v.Errorf(block+".metrics.prometheus", "metrics are served on the admin listener, which is off; set admin.address")
	}
}

func checkTracing(v *config.Validator, t *Tracing) {
	switch {
	case t.OTLPEndpoint != "":
		if u, err := url.Parse(t.OTLPEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.Errorf(block+".tracing.otlp_endpoint", "%q is not a collector URL; want http(s)://host:port, e.g. http://127.0.0.1:4318", t.OTLPEndpoint)
		} else if t.Protocol == "grpc" && strings.TrimSuffix(u.Path, "/") != "" {
			v.Errorf(block+".tracing.otlp_endpoint", "%q: OTLP/gRPC takes no path; want http(s)://host:port, e.g. http://127.0.0.1:4317 (http: plaintext, https: TLS)", t.OTLPEndpoint)
		}
		v.OneOf(block+".tracing.protocol", t.Protocol, tracingProtocols...)
		if s := *t.Sample; s < 0 || s > 1 {
			v.Errorf(block+".tracing.sample", "%v is not a ratio; valid: 0 to 1 (0.1 records one new trace in ten)", s)
		}
		for name := range t.Headers {
			if !config.IsToken(name) {
				v.Errorf(block+".tracing.headers", "%q is not a valid header name", name)
			}
		}
	case t.Sample != nil || t.Protocol != "" || t.ServiceName != "" || len(t.Headers) > 0:
		v.Errorf(block+".tracing.otlp_endpoint", "required to turn tracing on: the collector's URL, e.g. http://127.0.0.1:4318")
	}
}

func checkAccessLogBlock(v *config.Validator, al **AccessLog) {
	a := *al
	if a == nil {
		return
	}
	const ap = block + ".access_log"
	v.OneOf(ap+".format", a.Format, accessLogFormats...)
	v.NotNegative(ap+".buffer", a.Buffer)
	for i, f := range a.Fields {
		if !slices.Contains(AccessLogFields, f) {
			v.Errorf(config.JoinIndex(ap+".fields", i), "unknown field %q; valid: %s", f, strings.Join(AccessLogFields, ", "))
		}
	}
}

// The enumerated fields, checked with OneOf and listed in the JSON Schema.
var (
	tracingProtocols = []string{"http", "grpc"}
	accessLogFormats = []string{"json", "text"}
)

func (*Tracing) EnumFields() map[string][]string {
	return map[string][]string{"protocol": tracingProtocols}
}

func (*AccessLog) EnumFields() map[string][]string {
	return map[string][]string{"format": accessLogFormats}
}
