package config

import (
	"net/url"
	"slices"
	"strings"
)

const (
	defaultMetricsPath      = "/metrics"
	defaultTracingProtocol  = "http"
	defaultTracingService   = "wasmgate"
	defaultAccessLogFormat  = "json"
	defaultAccessLogPath    = "stdout"
	defaultAccessLogBuffer  = 4096
	defaultRequestIDHeader  = "X-Request-Id"
	defaultTracingSampleAll = 1.0
)

// observabilityDefaults fills the observability section's unset fields.
func observabilityDefaults(o *Observability) {
	setString(&o.Metrics.Path, defaultMetricsPath)
	if o.Tracing.OTLPEndpoint != "" {
		setString(&o.Tracing.Protocol, defaultTracingProtocol)
		setString(&o.Tracing.ServiceName, defaultTracingService)
		if o.Tracing.Sample == nil {
			s := defaultTracingSampleAll
			o.Tracing.Sample = &s
		}
	}
	if a := o.AccessLog; a != nil {
		setString(&a.Format, defaultAccessLogFormat)
		setString(&a.Path, defaultAccessLogPath)
		if len(a.Fields) == 0 {
			a.Fields = AccessLogFields
		}
		if a.Buffer == 0 {
			a.Buffer = defaultAccessLogBuffer
		}
	}
	if r := o.RequestID; r != nil {
		setString(&r.Header, defaultRequestIDHeader)
		setBool(&r.Generate, true)
	}
}

func (v *Validator) observability() {
	o := &v.c.Observability
	const p = "observability"
	if m := o.Metrics; m.Prometheus {
		if !strings.HasPrefix(m.Path, "/") {
			v.Errorf(p+".metrics.path", "%q must start with \"/\", e.g. /metrics", m.Path)
		}
		if v.c.Admin.Address == "off" {
			v.Errorf(p+".metrics.prometheus", "metrics are served on the admin listener, which is off; set admin.address")
		}
	}
	t := o.Tracing
	switch {
	case t.OTLPEndpoint != "":
		if u, err := url.Parse(t.OTLPEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.Errorf(p+".tracing.otlp_endpoint", "%q is not a collector URL; want http(s)://host:port, e.g. http://127.0.0.1:4318", t.OTLPEndpoint)
		} else if t.Protocol == "grpc" && strings.TrimSuffix(u.Path, "/") != "" {
			v.Errorf(p+".tracing.otlp_endpoint", "%q: OTLP/gRPC takes no path; want http(s)://host:port, e.g. http://127.0.0.1:4317 (http: plaintext, https: TLS)", t.OTLPEndpoint)
		}
		v.OneOf(p+".tracing.protocol", t.Protocol, "http", "grpc")
		if s := *t.Sample; s < 0 || s > 1 {
			v.Errorf(p+".tracing.sample", "%v is not a ratio; valid: 0 to 1 (0.1 records one new trace in ten)", s)
		}
		for name := range t.Headers {
			if !validHeaderToken(name) {
				v.Errorf(p+".tracing.headers", "%q is not a valid header name", name)
			}
		}
	case t.Sample != nil || t.Protocol != "" || t.ServiceName != "" || len(t.Headers) > 0:
		v.Errorf(p+".tracing.otlp_endpoint", "required to turn tracing on: the collector's URL, e.g. http://127.0.0.1:4318")
	}
	if a := o.AccessLog; a != nil {
		ap := p + ".access_log"
		v.OneOf(ap+".format", a.Format, "json", "text")
		v.NotNegative(ap+".buffer", a.Buffer)
		for i, f := range a.Fields {
			if !slices.Contains(AccessLogFields, f) {
				v.Errorf(JoinIndex(ap+".fields", i), "unknown field %q; valid: %s", f, strings.Join(AccessLogFields, ", "))
			}
		}
	}
	if r := o.RequestID; r != nil && !validHeaderToken(r.Header) {
		v.Errorf(p+".request_id.header", "%q is not a valid header name; e.g. X-Request-Id", r.Header)
	}
}

// validHeaderToken reports whether s is an RFC 9110 token (a field name).
func validHeaderToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
