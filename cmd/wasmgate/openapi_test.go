package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenAPIRoutes prints routes for the warehouse document and loads
// them in a config: every operation's path is matched, a template with a
// parameter inside a segment becomes a regex, and the result validates.
func TestOpenAPIRoutes(t *testing.T) {
	spec, err := filepath.Abs("../../filters/openapi/testdata/warehouse.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runCLI(t, "openapi", "routes", spec, "--upstream", "warehouse")
	if err != nil {
		t.Fatalf("openapi routes: %v\n%s", err, stderr)
	}
	for _, want := range []string{
		`match: { path: "/v1/orders", methods: [GET, POST] }`,
		`match: { path: "/v1/orders/{orderId}", methods: [GET, PATCH] }`,
		`match: { path: "/v1/orders/mine", methods: [GET] }`,
		`match: { regex: "^/v1/reports/[^/]+\\.csv$", methods: [GET] }`,
		`- openapi: { spec: "` + spec + `" }`,
		`upstream: "warehouse"`,
		"# listOrders, createOrder",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the routes lack %s:\n%s", want, out)
		}
	}
	cfg := "listeners: [{ address: \"127.0.0.1:0\" }]\nupstreams: { warehouse: { targets: [{ url: \"http://127.0.0.1:9\" }] } }\n" + out
	file := filepath.Join(t.TempDir(), "gw.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := runCLI(t, "validate", "-c", file); err != nil {
		t.Fatalf("the printed routes do not validate: %v\n%s\n%s", err, stderr, cfg)
	}

	_, _, err = runCLI(t, "openapi", "routes", spec)
	if err == nil || !strings.Contains(err.Error(), "upstream") {
		t.Errorf("without --upstream: %v", err)
	}
}
