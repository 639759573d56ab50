package config

// Observability configures what wraps every exchange: metrics, traces and
// access logs.
type Observability struct {
	Metrics   Metrics   `yaml:"metrics"`
	Tracing   Tracing   `yaml:"tracing"`
	AccessLog AccessLog `yaml:"access_log"`
}

// Metrics are served for Prometheus on the admin listener at /metrics.
type Metrics struct {
	Prometheus bool `yaml:"prometheus"`
}

// Tracing exports OpenTelemetry spans over OTLP/HTTP.
type Tracing struct {
	OTLPEndpoint string  `yaml:"otlp_endpoint"`
	Sample       float64 `yaml:"sample"`
}

// AccessLog writes one line per exchange.
type AccessLog struct {
	Format string `yaml:"format"` // json
}
