package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const portalConfig = head + `
portal: { title: "E2E portal" }
consumers:
  - { name: partner, api_keys: [{ sha256: "{{.key_sha256}}" }] }
upstreams:
  orders: { targets: [{ url: "{{.orders}}" }] }
routes:
  - name: orders
    match: { prefix: /orders }
    docs: { file: "{{.doc}}" }
    filters:
      - apikey: { header: X-Partner-Key }
      - rate_limit: { key: consumer, rate: 50/s, burst: 60 }
    upstream: orders
  - name: catch-all
    match: { prefix: / }
    upstream: orders
`

// The portal through the binary: the page, the raw and merged documents,
// served before routing (a catch-all route does not get /docs), and an
// edited document picked up by the file watch.
func TestPortalThroughBinary(t *testing.T) {
	needBinary(t)
	orders := newEcho(t, "orders")
	src, err := os.ReadFile(filepath.Join("..", "..", "core", "portal", "testdata", "orders.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc := filepath.Join(t.TempDir(), "orders.yaml")
	writeFile(t, filepath.Dir(doc), "orders.yaml", string(src))
	g := startGateway(t, portalConfig, vars{"orders": orders.URL, "doc": doc, "key_sha256": strings.Repeat("ab", 32)})

	resp, page := g.Get("/docs/")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("GET /docs/: %d %v", resp.StatusCode, resp.Header)
	}
	for _, want := range []string{"E2E portal", `data-api="orders"`, "Orders API", "API key", "X-Partner-Key", "Rate limit", "50/s", "Place an order"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if hits := orders.hits.Load(); hits != 0 {
		t.Errorf("the portal's request reached the catch-all route's upstream (%d)", hits)
	}

	resp, raw := g.Get("/docs/openapi/orders.json")
	var d struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(raw, &d); err != nil || resp.StatusCode != 200 || d.OpenAPI != "3.1.0" || len(d.Paths) != 3 {
		t.Errorf("orders.json: %d %v %s", resp.StatusCode, err, raw)
	}
	if resp, raw := g.Get("/docs/openapi.json"); resp.StatusCode != 200 || !strings.Contains(string(raw), `"/orders/{id}"`) {
		t.Errorf("openapi.json: %d %s", resp.StatusCode, raw)
	}
	// Routes still route.
	if resp, _ := g.Get("/other"); resp.StatusCode != 200 || orders.hits.Load() != 1 {
		t.Errorf("/other: %d", resp.StatusCode)
	}

	// An edited document reloads the config, as an edited config does.
	gen := g.Status().Generation
	writeFile(t, filepath.Dir(doc), "orders.yaml", strings.Replace(string(src), "Place an order", "Order something", 1))
	g.WaitGeneration(gen)
	if _, page := g.Get("/docs/"); !strings.Contains(string(page), "Order something") {
		t.Error("the edited document is not on the page")
	}

	// validate reads the document, and names its line.
	broken := filepath.Join(t.TempDir(), "gw.yaml")
	writeFile(t, filepath.Dir(broken), "bad.yaml", "openapi: 3.1.0\ninfo: { title: Bad, version: '1' }\npaths:\n  /a:\n    get: { responses: { '200': { $ref: '#/nowhere' } } }\n")
	writeFile(t, filepath.Dir(broken), "gw.yaml", `
listeners: [{ address: "127.0.0.1:0" }]
portal: {}
routes:
  - name: r
    docs: { file: bad.yaml }
    respond: {}
`)
	_, stderr, code := runCLI(t, t.TempDir(), "validate", "-c", broken)
	if code == 0 || !strings.Contains(stderr, "gw.yaml:6:13: routes[0].docs.file: "+filepath.Join(filepath.Dir(broken), "bad.yaml")+`:5: $ref "#/nowhere" points to nothing in the document`) {
		t.Errorf("validate: exit %d\n%s", code, stderr)
	}
	if resp, _ := g.Do(newRequest(t, http.MethodPost, g.URL("/docs/"), nil)); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /docs/: %d", resp.StatusCode)
	}
}
