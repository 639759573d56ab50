package config

// Observability configures what wraps every exchange: metrics, traces, access
// logs and request IDs. Each signal is off unless configured.
type Observability struct {
	Metrics   Metrics    `yaml:"metrics"`
	Tracing   Tracing    `yaml:"tracing"`
	AccessLog *AccessLog `yaml:"access_log"` // present (even {}) turns it on
	RequestID *RequestID `yaml:"request_id"` // present (even {}) turns it on

	// sections holds the signals other packages own (section.go).
	sections map[string]any
}

// Metrics are served for Prometheus on the admin listener.
type Metrics struct {
	Prometheus bool   `yaml:"prometheus"`
	Path       string `yaml:"path"` // on the admin listener; default /metrics
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

// AccessLog writes one line per exchange, asynchronously.
type AccessLog struct {
	Format string `yaml:"format"` // json (default) | text (common log format, extended)
	// Path is stdout (default), stderr, or a file opened for appending.
	Path string `yaml:"path"`
	// Fields selects and orders the fields written (default: all of
	// AccessLogFields).
	Fields []string `yaml:"fields"`
	// Buffer is how many lines may wait for a slow sink; beyond it lines are
	// dropped and counted, so requests never wait (default 4096).
	Buffer int `yaml:"buffer"`
}

// AccessLogFields are the access-log fields, in their default order.
var AccessLogFields = []string{
	"time", "request_id", "trace_id", "client_ip", "method", "host", "path", "protocol",
	"route", "status", "bytes_in", "bytes_out", "duration_us", "upstream_duration_us",
	"upstream", "upstream_target", "attempts", "consumer", "rejected_by", "user_agent", "error",
}

// RequestID names the header that carries a request ID. The gateway takes
// the client's (if well formed) or generates one, passes it to the upstream,
// and returns it to the client.
type RequestID struct {
	Header   string `yaml:"header"`   // default X-Request-Id
	Generate *bool  `yaml:"generate"` // generate when the client sent none (default true)
}
