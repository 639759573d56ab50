package observe

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/core/config"
)

// parseErrs parses src as gw.yaml and returns every error's text; it fails
// the test if the config loads.
func parseErrs(t *testing.T, src string) []string {
	t.Helper()
	c, err := config.Parse("gw.yaml", []byte(strings.TrimPrefix(src, "\n")))
	if err == nil {
		t.Fatalf("config loaded, want errors: %+v", c)
	}
	var es config.Errors
	if !errors.As(err, &es) {
		t.Fatalf("error is %T, want Errors: %v", err, err)
	}
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Error()
	}
	return out
}

func TestObservabilityErrors(t *testing.T) {
	got := parseErrs(t, `
listeners: [{ address: ":8080" }]
admin: { address: "off" }
observability:
  metrics: { prometheus: true, path: metrics }
  tracing: { otlp_endpoint: "127.0.0.1:4318", protocol: udp, sample: 2 }
  access_log: { format: xml, fields: [status, colour], buffer: -1 }
  request_id: { header: "X Request" }
routes: [{ name: r, match: { prefix: / }, respond: { status: 200 } }]
`)
	want := []string{
		`gw.yaml:4:14: observability.metrics.prometheus: metrics are served on the admin listener, which is off; set admin.address`,
		`gw.yaml:4:32: observability.metrics.path: "metrics" must start with "/", e.g. /metrics`,
		`gw.yaml:5:14: observability.tracing.otlp_endpoint: "127.0.0.1:4318" is not a collector URL; want http(s)://host:port, e.g. http://127.0.0.1:4318`,
		`gw.yaml:5:47: observability.tracing.protocol: "udp" is not valid; valid values: http, grpc`,
		`gw.yaml:5:62: observability.tracing.sample: 2 is not a ratio; valid: 0 to 1 (0.1 records one new trace in ten)`,
		`gw.yaml:6:17: observability.access_log.format: "xml" is not valid; valid values: json, text`,
		`gw.yaml:6:47: observability.access_log.fields[1]: unknown field "colour"; valid: ` + strings.Join(AccessLogFields, ", "),
		`gw.yaml:6:56: observability.access_log.buffer: -1 is negative; use a positive number (0 means the default)`,
		`gw.yaml:7:17: observability.request_id.header: "X Request" is not a valid header name; e.g. X-Request-Id`,
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("missing error:\n  %s\ngot:\n  %s", w, strings.Join(got, "\n  "))
		}
	}
}

func TestObservabilityDefaults(t *testing.T) {
	c, err := config.Parse("gw.yaml", []byte(`
listeners: [{ address: ":8080" }]
observability:
  metrics: { prometheus: true }
  tracing: { otlp_endpoint: "http://127.0.0.1:4318" }
  access_log: {}
  request_id: {}
routes: [{ name: r, match: { prefix: / }, respond: { status: 200 } }]
`))
	if err != nil {
		t.Fatal(err)
	}
	m, tr := metricsOf(c), tracingOf(c)
	if m.Path != "/metrics" || tr.Protocol != "http" || *tr.Sample != 1 || tr.ServiceName != "wasmgate" {
		t.Errorf("metrics/tracing defaults: %+v %+v", m, tr)
	}
	if a := accessLogOf(c); a.Format != "json" || a.Path != "stdout" || a.Buffer != 4096 || !slices.Equal(a.Fields, AccessLogFields) {
		t.Errorf("access log defaults: %+v", a)
	}
	if r := c.Observability.RequestID; r.Header != "X-Request-Id" || !*r.Generate {
		t.Errorf("request id defaults: %+v", r)
	}
}

// Each signal is off unless written: access_log is on when present, even
// empty, and off when absent or null.
func TestObservabilitySignalsOff(t *testing.T) {
	for src, on := range map[string]bool{
		"":                                  false,
		"observability: {}\n":               false,
		"observability: {access_log: }\n":   false,
		"observability: {access_log: {}}\n": true,
	} {
		c, err := config.Parse("gw.yaml", []byte("listeners: [{ address: \":8080\" }]\n"+src))
		if err != nil {
			t.Fatal(err)
		}
		if got := accessLogOf(c) != nil; got != on {
			t.Errorf("%q: access log on = %v, want %v", src, got, on)
		}
		if metricsOf(c).Prometheus || tracingOf(c).OTLPEndpoint != "" || metricsOf(c).Path != "/metrics" {
			t.Errorf("%q: metrics %+v, tracing %+v: want off, with defaults", src, metricsOf(c), tracingOf(c))
		}
	}
}

func TestTracingGRPCNoPath(t *testing.T) {
	got := parseErrs(t, `
listeners: [{ address: ":8080" }]
observability:
  tracing: { otlp_endpoint: "http://127.0.0.1:4317/v1/traces", protocol: grpc }
routes: [{ name: r, match: { prefix: / }, respond: { status: 200 } }]
`)
	if len(got) != 1 || !strings.Contains(got[0], "observability.tracing.otlp_endpoint: \"http://127.0.0.1:4317/v1/traces\": OTLP/gRPC takes no path") {
		t.Errorf("got %q", got)
	}
}

func TestObservabilityUnknownSignal(t *testing.T) {
	got := parseErrs(t, `
listeners: [{ address: ":8080" }]
observability:
  tracin: {}
`)
	want := `gw.yaml:3:3: observability.tracin: unknown field "tracin"; valid fields: access_log, metrics, request_id, tracing; did you mean "tracing"?`
	if len(got) != 1 || got[0] != want {
		t.Errorf("got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), want)
	}
}
