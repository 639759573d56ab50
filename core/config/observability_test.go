package config

import (
	"slices"
	"strings"
	"testing"
)

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
`, env())
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
	c, err := parse("gw.yaml", doc(`
listeners: [{ address: ":8080" }]
observability:
  metrics: { prometheus: true }
  tracing: { otlp_endpoint: "http://127.0.0.1:4318" }
  access_log: {}
  request_id: {}
routes: [{ name: r, match: { prefix: / }, respond: { status: 200 } }]
`), env())
	if err != nil {
		t.Fatal(err)
	}
	o := c.Observability
	if o.Metrics.Path != "/metrics" || o.Tracing.Protocol != "http" || *o.Tracing.Sample != 1 || o.Tracing.ServiceName != "wasmgate" {
		t.Errorf("metrics/tracing defaults: %+v %+v", o.Metrics, o.Tracing)
	}
	if a := o.AccessLog; a.Format != "json" || a.Path != "stdout" || a.Buffer != 4096 || !slices.Equal(a.Fields, AccessLogFields) {
		t.Errorf("access log defaults: %+v", a)
	}
	if r := o.RequestID; r.Header != "X-Request-Id" || !*r.Generate {
		t.Errorf("request id defaults: %+v", r)
	}
}

func TestReadinessUpstreams(t *testing.T) {
	got := parseErrs(t, `
listeners: [{ address: ":8080" }]
admin: { readiness: { require_healthy_upstreams: [users, userz] } }
upstreams: { users: { targets: [{ url: "http://127.0.0.1:9001" }] } }
routes: [{ name: r, match: { prefix: / }, upstream: users }]
`, env())
	want := `gw.yaml:2:58: admin.readiness.require_healthy_upstreams[1]: unknown upstream "userz"; valid upstreams: users; did you mean "users"?`
	if len(got) != 1 || got[0] != want {
		t.Errorf("got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), want)
	}
}

func TestTracingGRPCNoPath(t *testing.T) {
	got := parseErrs(t, `
listeners: [{ address: ":8080" }]
observability:
  tracing: { otlp_endpoint: "http://127.0.0.1:4317/v1/traces", protocol: grpc }
routes: [{ name: r, match: { prefix: / }, respond: { status: 200 } }]
`, env())
	if len(got) != 1 || !strings.Contains(got[0], "observability.tracing.otlp_endpoint: \"http://127.0.0.1:4317/v1/traces\": OTLP/gRPC takes no path") {
		t.Errorf("got %q", got)
	}
}
