package e2e

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

const openapiConfig = head + `
observability:
  metrics: { prometheus: true }
portal: {}
upstreams:
  warehouse: { targets: [{ url: "{{.echo}}" }] }
routes:
  - name: warehouse
    match: { prefix: /v1 }
    filters:
      - openapi: { spec: "{{.spec}}", name: warehouse, max_problems: 3 }
    upstream: warehouse
  - name: warehouse-report
    match: { prefix: /stage/v1 }
    filters:
      - openapi: { spec: "{{.spec}}", name: warehouse, mode: report }
    upstream: warehouse
`

// The openapi filter through the real binary: a valid request reaches the
// upstream; invalid ones are answered 400/404/405/415 by the gateway and
// never arrive; report mode lets them through; the refusals are counted
// per route and operation in /metrics, and the portal publishes the
// document.
func TestOpenAPIThroughBinary(t *testing.T) {
	needBinary(t)
	echo := newEcho(t, "warehouse")
	spec, err := filepath.Abs(filepath.Join("..", "..", "filters", "openapi", "testdata", "warehouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, openapiConfig, vars{"echo": echo.URL, "spec": spec})

	resp, body := g.Get("/v1/orders?limit=5&status=open")
	decodeSeen(t, resp.StatusCode, body)
	if echo.hits.Load() != 1 {
		t.Fatalf("the valid request did not reach the upstream")
	}
	post := func(path, ct, body string) (*http.Response, []byte) {
		req := newRequest(t, "POST", g.URL(path), strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Idempotency-Key", "6f1c1f0e-8d5a-4c1e-9a4b-1f2e3d4c5b6a")
		return g.Do(req)
	}
	for _, c := range []struct {
		name   string
		do     func() (*http.Response, []byte)
		status int
		want   []string
	}{
		{"query over maximum", func() (*http.Response, []byte) { return g.Get("/v1/orders?limit=1000") }, 400, []string{`"location":"query.limit"`}},
		{"body problems, capped", func() (*http.Response, []byte) {
			return post("/v1/orders", "application/json", `{"customer":{},"items":[{"sku":"x","qty":0}],"payment":{}}`)
		}, 400, []string{`"location":"/body/customer"`, `"omitted":`}},
		{"unsupported media type", func() (*http.Response, []byte) { return post("/v1/orders", "text/plain", "hello") }, 415, nil},
		{"no such operation", func() (*http.Response, []byte) { return g.Get("/v1/invoices") }, 404, nil},
		{"wrong method", func() (*http.Response, []byte) {
			return g.Do(newRequest(t, "DELETE", g.URL("/v1/orders/4"), nil))
		}, 405, nil},
	} {
		resp, body := c.do()
		if resp.StatusCode != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, resp.StatusCode, body, c.status)
		}
		for _, w := range c.want {
			if !strings.Contains(string(body), w) {
				t.Errorf("%s: the answer lacks %s: %s", c.name, w, body)
			}
		}
	}
	if n := echo.hits.Load(); n != 1 {
		t.Errorf("%d requests reached the upstream; the invalid ones must not", n)
	}

	resp, body = g.Get("/stage/v1/orders?limit=1000")
	if resp.StatusCode != 200 || echo.hits.Load() != 2 {
		t.Errorf("report mode: %d %s, want the request let through", resp.StatusCode, body)
	}

	resp, metrics := g.AdminDo(newRequest(t, http.MethodGet, g.AdminURL("/metrics"), nil))
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	for _, want := range []string{
		`wasmgate_openapi_validations_total{operation="listOrders",result="invalid",route="warehouse"} 1`,
		`wasmgate_openapi_validations_total{operation="listOrders",result="valid",route="warehouse"} 1`,
		`wasmgate_openapi_validations_total{operation="createOrder",result="unsupported_media_type",route="warehouse"} 1`,
		`wasmgate_openapi_validations_total{operation="",result="not_found",route="warehouse"} 1`,
		`wasmgate_openapi_validations_total{operation="listOrders",result="invalid",route="warehouse-report"} 1`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	resp, doc := g.Get("/docs/openapi/warehouse.json")
	if resp.StatusCode != 200 || !strings.Contains(string(doc), `"operationId":"createOrder"`) {
		t.Errorf("the portal's document: %d %.200s", resp.StatusCode, doc)
	}
}
